#pragma once
// How numbers read in the workbench: counts with thousands separators (whatever the locale,
// even "C"), sizes in binary units, tensor shapes as "320 × 64".
#include <QString>

#include <cstdint>
#include <vector>

namespace qcw::ui {

QString formatCount(std::int64_t n);           // 190,976
QString formatCompactCount(std::int64_t n);    // 191 K, 1.42 B
QString formatBytes(double bytes);             // 746.0 KiB, 2.65 GiB
QString formatShape(const std::vector<std::int64_t>& shape);  // 320 × 64 ; scalar: "scalar"

}  // namespace qcw::ui
