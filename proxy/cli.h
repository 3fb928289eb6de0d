#pragma once
// The command line (README.md, "Command line"): parses argv into a command and dispatches.

namespace sb::cli {

// Exit codes (README.md, "Command line").
inline constexpr int kOk = 0;
inline constexpr int kInvalid = 1;  // invalid configuration or failed test
inline constexpr int kUsage = 2;
inline constexpr int kRuntime = 3;

int main(int argc, char** argv);

}  // namespace sb::cli
