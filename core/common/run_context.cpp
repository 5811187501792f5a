#include "common/run_context.h"

#include "common/error.h"

namespace qcw {

void RunContext::checkCancelled() const {
    if (isCancelled()) throw Cancelled();
}

RunContext& RunContext::none() {
    static thread_local RunContext ctx;
    return ctx;
}

}  // namespace qcw
