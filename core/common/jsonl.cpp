#include "common/jsonl.h"

#include "common/error.h"
#include "common/files.h"

#include <sstream>

namespace qcw {

void forEachJsonLine(const std::string& path,
                     const std::function<bool(const nlohmann::json& value, const std::string& where)>& fn,
                     std::size_t maxBytes) {
    std::istringstream in(readTextFile(path, maxBytes));
    std::string line;
    std::size_t lineNo = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const std::string where = path + ":" + std::to_string(lineNo);
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(line);
        } catch (const std::exception&) {
            fail(where, "is not valid JSON");
        }
        if (!fn(j, where)) return;
    }
}

}  // namespace qcw
