#pragma once
// Errors inside core are thrown as qcw::Error with a one-line message that names the file
// or value at fault and what is wrong. The CLI and the UI catch them at their boundary.
#include <stdexcept>
#include <string>

namespace qcw {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Thrown when a long job notices its cancellation flag.
class Cancelled : public Error {
public:
    Cancelled() : Error("cancelled") {}
};

// "where: what" with the message kept on one line.
std::string oneLine(const std::string& text);
[[noreturn]] void fail(const std::string& where, const std::string& what);

}  // namespace qcw

#define QCW_ASSERT(cond, msg)                                                              \
    do {                                                                                   \
        if (!(cond)) ::qcw::fail(__func__, std::string("internal check failed: ") + (msg)); \
    } while (0)
