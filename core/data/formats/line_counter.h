#pragma once
// Line numbers for many offsets in increasing order without rescanning (the parsers).
#include <algorithm>
#include <cstddef>
#include <string>

namespace qcw::formats {

class LineCounter {
public:
    explicit LineCounter(const std::string& s) : s_(s) {}
    int lineAt(std::size_t off) {
        if (off < pos_) {
            pos_ = 0;
            line_ = 1;
        }
        off = std::min(off, s_.size());
        line_ += int(std::count(s_.begin() + long(pos_), s_.begin() + long(off), '\n'));
        pos_ = off;
        return line_;
    }

private:
    const std::string& s_;
    std::size_t pos_ = 0;
    int line_ = 1;
};

}  // namespace qcw::formats
