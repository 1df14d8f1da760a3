// The one exception type native code throws. `code` is stable and becomes the JS error's `code`.
#pragma once
#include <stdexcept>
#include <string>

namespace smoe {

struct Error : std::runtime_error {
  std::string code;
  Error(std::string c, const std::string& msg) : std::runtime_error(msg), code(std::move(c)) {}
};

}  // namespace smoe
