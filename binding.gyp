# CPU-only fallback build for machines without cmake (node-gyp ships with npm).
# The source list is native/sources.json, shared with CMakeLists.txt (the real build).
{
  "target_defaults": {
    "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fvisibility=hidden", "-Wno-uninitialized", "-Wno-maybe-uninitialized"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++14"],
    "include_dirs": ["<!(node -p \"require('path').dirname(require.resolve('node-addon-api/package.json'))\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"]
  },
  "targets": [
    {
      "target_name": "smoe_avx2",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/sources.json').x86_avx2.join(' ')\")"],
      "cflags_cc": ["-mavx2", "-mfma", "-mf16c", "-fPIC"]
    },
    {
      "target_name": "smoe_avx512",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/sources.json').x86_avx512.join(' ')\")"],
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx2", "-mfma", "-mf16c", "-fPIC"]
    },
    {
      "target_name": "smoe_avx512vnni",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('./native/sources.json').x86_avx512vnni.join(' ')\")"],
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512vnni", "-mavx2", "-mfma", "-mf16c", "-fPIC"]
    },
    {
      "target_name": "smoe",
      "sources": ["<!@(node -p \"require('./native/sources.json').common.join(' ')\")"],
      "cflags_cc": ["-ffp-contract=off"],
      "defines": ["SMOE_HAVE_X86_KERNELS"],
      "dependencies": ["smoe_avx2", "smoe_avx512", "smoe_avx512vnni"]
    }
  ]
}
