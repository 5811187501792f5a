#pragma once
// Helpers shared by the Qt Test executables.
#include "common/error.h"

#include <QString>

#include <exception>

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

}  // namespace qcw::test
