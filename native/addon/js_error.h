// Mapping of native failures to JS errors: every error thrown to JS is an Error with a stable `code`.
#pragma once
#include <napi.h>

#include <exception>
#include <new>
#include <string>

#include "../core/error.h"

namespace smoe::addon {

struct Failure {
  std::string code, message;
  bool failed() const { return !code.empty(); }
};

// Runs fn, turning any C++ exception into a Failure (for AsyncWorker::Execute, which must not throw to JS).
template <class F>
Failure capture(F&& fn) {
  try {
    fn();
    return {};
  } catch (const Error& e) {
    return {e.code, e.what()};
  } catch (const std::bad_alloc&) {
    return {"OUT_OF_MEMORY", "out of memory"};
  } catch (const std::exception& e) {
    return {"INTERNAL", e.what()};
  }
}

inline Napi::Error make_error(Napi::Env env, const Failure& f) {
  Napi::Error err = Napi::Error::New(env, f.message);
  err.Set("code", Napi::String::New(env, f.code));
  return err;
}

inline void throw_error(Napi::Env env, const std::string& code, const std::string& message) {
  make_error(env, {code, message}).ThrowAsJavaScriptException();
}

}  // namespace smoe::addon
