{
  "targets": [
    {
      "target_name": "sbert_node",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_build",
          "inputs": ["CMakeLists.txt"],
          "outputs": ["build/Release/sbert_node.node"],
          "action": ["node", "scripts/build-native.cjs"]
        }
      ]
    }
  ]
}
