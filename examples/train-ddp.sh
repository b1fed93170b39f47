#!/bin/sh
# Distributed data parallel training on one machine (or one node of several): starts NPROC processes of
# examples/trainer-italian.ts, each told its place by torchrun's environment variables (RANK, LOCAL_RANK,
# WORLD_SIZE, MASTER_ADDR, MASTER_PORT), as torchrun or a cluster launcher would. Each trains on its share of
# every step's batches; their gradients are averaged (c10d's Gloo over TCP); rank 0 evaluates, logs and saves.
#
#   sh examples/train-ddp.sh 2 --model DIR --data DIR --max-steps 100
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 sh examples/train-ddp.sh 4 ...   # node 0 of two; then NODE_RANK=1 on the other
#
# The same from the command line, for a config file: sbert-node train CONFIG --nproc-per-node 2.
# When one process fails, the others stop too (their next collective fails), and this script exits non-zero.
set -u
NPROC=${1:?usage: sh examples/train-ddp.sh NPROC [trainer-italian.ts options]}
shift
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
export MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
export MASTER_PORT=${MASTER_PORT:-29500}
export WORLD_SIZE=$((NPROC * NNODES))
# As torchrun: the processes share the cores rather than each taking them all.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / NPROC > 0 ? $(nproc) / NPROC : 1 ))}
cd "$(dirname "$0")/.."

pids=""
local_rank=0
while [ "$local_rank" -lt "$NPROC" ]; do
  RANK=$((NODE_RANK * NPROC + local_rank)) LOCAL_RANK=$local_rank npx tsx examples/trainer-italian.ts "$@" &
  pids="$pids $!"
  local_rank=$((local_rank + 1))
done

status=0
for pid in $pids; do
  wait "$pid" || status=$?
done
exit $status
