#include "data/formats/scan.h"

#include <set>

namespace qcw::formats::scan {

bool stopWord(const std::string& v) {
    static const std::set<std::string> words = {
        "is", "the", "a", "an", "not", "required", "stored", "set", "in", "to", "of", "for", "and", "or", "must",
        "should", "will", "be", "changed", "change", "used", "using", "from", "with", "that", "this", "your", "you",
        "our", "their", "its", "it", "as", "at", "by", "on", "never", "only", "also", "same", "different",
        "generated", "provided", "supplied", "managed", "kept", "saved", "retrieved", "rotated", "expired",
        "expires", "empty", "blank", "none", "null", "true", "false", "yes", "no", "optional", "mandatory",
        "hidden", "encrypted", "hashed", "secure", "securestring", "string", "masked", "redacted", "enable",
        "disable", "enabled", "disabled", "reset", "protected", "available", "needed", "defined", "configured",
        "specified", "entered", "sent", "shown", "displayed", "correct", "incorrect", "wrong", "invalid", "valid",
        "unknown", "see", "refer", "check", "use", "please", "note", "here", "there", "below", "above",
        "following", "under", "via", "held", "now", "then", "when", "if", "can", "may", "has", "have", "had",
        "being", "been", "are", "was", "were", "which", "what", "who", "where", "length", "policy", "expiry",
        "authentication", "based", "less", "field", "value", "parameter", "variable", "file", "type", "sensitive",
        "too", "very", "still", "stays", "remains", "must", "needs", "change", "changes", "rotation", "per",
        "number", "characters", "chars", "long", "strong", "weak", "complex", "unique", "temporary", "initial",
        "each", "every", "both", "either", "own", "local", "remote", "admin", "user", "default", "object", "list",
        "map", "bool", "number", "sensitive", "description", "lifetime", "timeout", "expiration", "secret",
        "password", "key", "token", "vault", "keyvault", "identity", "credentials", "credential"};
    std::string l = toLower(v);
    while (!l.empty() && (l.back() == '.' || l.back() == ',' || l.back() == ':' || l.back() == ';')) l.pop_back();
    return words.count(l) > 0;
}

bool secretName(const std::string& lowName) {
    if (lowName.find("public") != std::string::npos || lowName.find("vault") != std::string::npos ||
        lowName.find("keyname") != std::string::npos || lowName.find("keysize") != std::string::npos ||
        lowName.find("keytype") != std::string::npos || lowName.find("keylength") != std::string::npos)
        return false;
    for (const char* w : {"password", "passwd", "secret", "key", "pwd", "token", "passphrase", "psk", "credential"})
        if (lowName.find(w) != std::string::npos) return true;
    return false;
}

}  // namespace qcw::formats::scan
