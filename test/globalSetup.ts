// Filled in as the native suites arrive: builds the shared tiny-model fixtures once per run.
export default function setup(): void {}
