#pragma once
// Helpers shared by the Qt Test executables.
#include "common/error.h"

#include <QString>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace qcw::test {

// The message of the qcw::Error that `f` throws; empty when it throws nothing. Any other
// exception is reported as such, so a test expecting a qcw::Error message fails on it.
template <typename F>
QString errorOf(F&& f) {
    try {
        f();
    } catch (const qcw::Error& e) {
        return QString::fromStdString(e.what());
    } catch (const std::exception& e) {
        return QStringLiteral("NOT A qcw::Error: ") + e.what();
    }
    return QString();
}

// A PDF file from its objects (object i + 1 is objs[i]; object 1 must be the catalog):
// header, objects, cross-reference table and trailer, so poppler reads it without repair.
inline std::string pdfFromObjects(const std::vector<std::string>& objs) {
    std::string out = "%PDF-1.4\n";
    std::vector<std::size_t> offs;
    for (std::size_t i = 0; i < objs.size(); ++i) {
        offs.push_back(out.size());
        out += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
    }
    std::size_t xref = out.size();
    out += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
    for (auto o : offs) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%010zu 00000 n \n", o);
        out += buf;
    }
    out += "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
           std::to_string(xref) + "\n%%EOF\n";
    return out;
}

}  // namespace qcw::test
