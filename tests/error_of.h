// The message of the Error a piece of code throws, for tests that check what it says.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "engine/error.h"

namespace cupick::test {

// The message of the Error `f` throws ("" and a test failure when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no Error thrown";
  return "";
}

}  // namespace cupick::test
