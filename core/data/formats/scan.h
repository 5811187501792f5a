#pragma once
// Character classes and scanning helpers shared by the secret detectors (scrub.cpp and the
// formats' own detectors). Hand-written, ASCII only, no allocation except toLower.
#include <cstddef>
#include <cstring>
#include <string>

namespace qcw::formats::scan {

inline bool isAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
inline bool isAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool isDigit(char c) { return c >= '0' && c <= '9'; }
inline bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
inline bool isBlank(char c) { return c == ' ' || c == '\t'; }
inline bool isIdent(char c) { return isAlnum(c) || c == '_' || c == '-'; }
inline bool isB64(char c) { return isAlnum(c) || c == '+' || c == '/'; }
inline bool isB64Url(char c) { return isAlnum(c) || c == '_' || c == '-'; }
// Characters of a secret-looking token (base64, base64url, Azure client secrets, hex ...).
inline bool isTok(char c) { return isAlnum(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '.' || c == '~' || c == '-'; }

inline std::string toLower(const std::string& s) {
    std::string r(s);
    for (auto& c : r)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return r;
}

inline bool startsWith(const std::string& s, std::size_t pos, const char* lit) {
    std::size_t n = std::strlen(lit);
    return pos + n <= s.size() && s.compare(pos, n, lit) == 0;
}

inline std::size_t lineEnd(const std::string& s, std::size_t pos) {
    std::size_t e = s.find('\n', pos);
    return e == std::string::npos ? s.size() : e;
}

inline std::size_t trimRight(const std::string& s, std::size_t b, std::size_t e) {
    while (e > b && isSpace(s[e - 1])) --e;
    return e;
}

inline bool isPlaceholder(const std::string& s, std::size_t b) {
    return startsWith(s, b, "[REDACTED") || startsWith(s, b, "[IP_") || startsWith(s, b, "[EMAIL_");
}

// A word that describes a credential rather than being one ("is", "required", "stored" ...).
bool stopWord(const std::string& v);
// A parameter/variable name that names a secret (password, secret, key ... but not
// publicKey, keyVaultName, keySize ...); `lowName` is lower-case.
bool secretName(const std::string& lowName);

}  // namespace qcw::formats::scan
