#pragma once
// Typed errors of the engine. Each message names the file or field, what was found and what was
// expected, so the CLI and the GUI can show it to the user as it is.
#include <stdexcept>
#include <string>

namespace ips {

// Base of every error the engine reports to its callers.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The user gave something unusable: a missing file, a bad value, an image of the wrong size.
class InputError : public Error {
public:
    using Error::Error;
};

// A model or weights file is unreadable, corrupt, truncated or of the wrong kind.
class ModelLoadError : public Error {
public:
    using Error::Error;
};

// A run was cancelled through its cancel token.
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled") {}
};

}  // namespace ips
