#pragma once
// Precompiled for every torch translation unit in core. Keep it to ATen.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
