#include "common/error.h"

namespace qcw {

std::string oneLine(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) out += (c == '\n' || c == '\r') ? ' ' : c;
    return out;
}

void fail(const std::string& where, const std::string& what) {
    throw Error(oneLine(where.empty() ? what : where + ": " + what));
}

}  // namespace qcw
