// Shared by the libFuzzer harnesses: the input as text, and the one rule they all check.
// A parser of user input may answer anything with std::invalid_argument (a user mistake)
// or std::runtime_error (a corrupt file); every other outcome (a crash, a sanitizer report,
// another exception type, a hang) is a finding. libFuzzer reports an uncaught exception
// as a crash ("deadly signal" from std::terminate), so the harnesses catch only these two.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace rnnlab::fuzz {

inline std::string text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Runs `parse`; the documented exceptions are answers, not findings.
template <typename Parse>
void expect_answer(Parse&& parse) {
  try {
    parse();
  } catch (const std::invalid_argument&) {
  } catch (const std::runtime_error&) {
  }
}

}  // namespace rnnlab::fuzz
