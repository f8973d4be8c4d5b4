#pragma once
// Errors are values at module boundaries: every exception carries a message a user can act on
// (which file, which key, what was expected, what was found).
#include <stdexcept>
#include <string>

namespace biasscope {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A long job was cancelled by the user; nothing half-written is left behind.
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled by user") {}
};

// Bad user input that is not a file-format problem (bad option, unknown target, wrong device).
class InputError : public Error {
public:
    using Error::Error;
};

}  // namespace biasscope
