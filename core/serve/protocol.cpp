#include "serve/protocol.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

namespace qcw::serve {

using nlohmann::json;

ApiError::ApiError(int st, std::string message, std::string ty, std::string pa, std::string co)
    : std::runtime_error(std::move(message)), status(st), type(std::move(ty)), param(std::move(pa)), code(std::move(co)) {}

json errorBody(const ApiError& e) {
    json err = {{"message", e.what()}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
    if (!e.param.empty()) err["param"] = e.param;
    if (!e.code.empty()) err["code"] = e.code;
    return json{{"error", err}};
}

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& message, const std::string& code = "invalid_value") {
    throw ApiError(400, message, "invalid_request_error", param, code);
}

const char* typeName(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "a boolean";
        case json::value_t::string: return "a string";
        case json::value_t::array: return "an array";
        case json::value_t::object: return "an object";
        case json::value_t::number_float: return "a number";
        default: return "an integer";
    }
}

[[noreturn]] void wrongType(const std::string& param, const json& v, const char* expected) {
    bad(param, "'" + param + "' must be " + expected + ", got " + typeName(v) + " (" + v.dump().substr(0, 60) + ")",
        "invalid_type");
}

// The field when present and not null.
const json* field(const json& obj, const char* name) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

double number(const json& obj, const char* name, double def, double lo, double hi) {
    const json* v = field(obj, name);
    if (!v) return def;
    if (!v->is_number()) wrongType(name, *v, "a number");
    const double d = v->get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
        bad(name, "'" + std::string(name) + "' is " + v->dump() + "; it must lie between " +
                      json(lo).dump() + " and " + json(hi).dump());
    return d;
}

bool boolean(const json& obj, const char* name, bool def) {
    const json* v = field(obj, name);
    if (!v) return def;
    if (!v->is_boolean()) wrongType(name, *v, "a boolean");
    return v->get<bool>();
}

std::optional<long long> integer(const json& obj, const char* name) {
    const json* v = field(obj, name);
    if (!v) return std::nullopt;
    if (v->is_number_float()) {
        const double d = v->get<double>();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<long long>(d);
    }
    if (!v->is_number_integer()) wrongType(name, *v, "an integer");
    if (v->is_number_unsigned() && v->get<unsigned long long>() > static_cast<unsigned long long>(std::numeric_limits<long long>::max()))
        bad(name, "'" + std::string(name) + "' is too large: " + v->dump());
    return v->get<long long>();
}

std::string messageContent(const json& m, const std::string& where, bool nullAllowed) {
    const json* c = field(m, "content");
    if (!c) {
        if (nullAllowed) return {};
        bad(where + ".content", "'" + where + ".content' is missing");
    }
    if (c->is_string()) return c->get<std::string>();
    if (c->is_array()) {  // content parts: only text ones can be served by a text model
        std::string text;
        for (std::size_t i = 0; i < c->size(); ++i) {
            const json& part = (*c)[i];
            const std::string pw = where + ".content[" + std::to_string(i) + "]";
            if (!part.is_object()) wrongType(pw, part, "an object");
            const json* type = field(part, "type");
            if (!type || !type->is_string() || type->get<std::string>() != "text")
                bad(pw + ".type", "'" + pw + ".type' is " + (type ? type->dump() : std::string("missing")) +
                                      "; this server takes only \"text\" parts");
            const json* t = field(part, "text");
            if (!t || !t->is_string()) wrongType(pw + ".text", t ? *t : json(), "a string");
            text += t->get<std::string>();
        }
        return text;
    }
    wrongType(where + ".content", *c, "a string or an array of text parts");
}

}  // namespace

GenRequest parseRequest(Endpoint endpoint, std::string_view body, const RequestLimits& limits,
                        const std::optional<std::string>& modelFromPath) {
    json j = json::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_discarded())
        throw ApiError(400, "the request body is not valid JSON", "invalid_request_error", {}, "invalid_json");
    if (!j.is_object()) bad("", std::string("the request body must be a JSON object, got ") + typeName(j), "invalid_type");

    GenRequest r;
    r.endpoint = endpoint;
    if (modelFromPath) {
        r.model = *modelFromPath;
    } else {
        const json* m = field(j, "model");
        if (!m) bad("model", "'model' is missing", "missing_required_parameter");
        if (!m->is_string()) wrongType("model", *m, "a string");
        r.model = m->get<std::string>();
    }

    if (endpoint == Endpoint::Chat) {
        const json* ms = field(j, "messages");
        if (!ms) bad("messages", "'messages' is missing", "missing_required_parameter");
        if (!ms->is_array()) wrongType("messages", *ms, "an array");
        if (ms->empty()) bad("messages", "'messages' is empty; give at least one message");
        if (ms->size() > limits.maxMessages)
            bad("messages", "'messages' has " + std::to_string(ms->size()) + " messages; this server takes at most " +
                                std::to_string(limits.maxMessages));
        for (std::size_t i = 0; i < ms->size(); ++i) {
            const json& m = (*ms)[i];
            const std::string where = "messages[" + std::to_string(i) + "]";
            if (!m.is_object()) wrongType(where, m, "an object");
            const json* role = field(m, "role");
            if (!role) bad(where + ".role", "'" + where + ".role' is missing", "missing_required_parameter");
            if (!role->is_string()) wrongType(where + ".role", *role, "a string");
            std::string rs = role->get<std::string>();
            if (rs == "developer") rs = "system";
            if (rs == "function") rs = "tool";
            if (rs != "system" && rs != "user" && rs != "assistant" && rs != "tool")
                bad(where + ".role", "'" + where + ".role' is \"" + role->get<std::string>() +
                                         "\"; expected system, developer, user, assistant or tool");
            r.messages.push_back({rs, messageContent(m, where, rs == "assistant")});
        }
    } else {
        const json* p = field(j, "prompt");
        if (!p) bad("prompt", "'prompt' is missing", "missing_required_parameter");
        if (p->is_string()) {
            r.prompt = p->get<std::string>();
        } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
            r.prompt = (*p)[0].get<std::string>();
        } else if (p->is_array() && !p->empty() && std::all_of(p->begin(), p->end(), [](const json& x) { return x.is_number_integer(); })) {
            r.promptIsIds = true;
            for (const auto& x : *p) {
                if (x.get<long long>() < 0) bad("prompt", "'prompt' holds a negative token id: " + x.dump());
                r.promptIds.push_back(x.get<std::int64_t>());
            }
        } else if (p->is_array() && p->size() > 1) {
            bad("prompt", "'prompt' holds " + std::to_string(p->size()) +
                              " prompts; this server answers one prompt per request", "unsupported_value");
        } else {
            wrongType("prompt", *p, "a string, a one-string array or an array of token ids");
        }
        if (boolean(j, "echo", false)) bad("echo", "'echo' is not supported by this server", "unsupported_value");
        if (auto bo = integer(j, "best_of"); bo && *bo != 1)
            bad("best_of", "'best_of' is " + std::to_string(*bo) + "; this server supports only 1", "unsupported_value");
        if (field(j, "suffix")) bad("suffix", "'suffix' is not supported by this server", "unsupported_value");
    }

    if (auto n = integer(j, "n"); n && *n != 1)
        bad("n", "'n' is " + std::to_string(*n) + "; this server returns exactly one choice (n = 1)", "unsupported_value");
    if (const json* lp = field(j, "logprobs"); lp && !(lp->is_boolean() && !lp->get<bool>()))
        bad("logprobs", "'logprobs' is not supported by this server", "unsupported_value");
    if (const json* tl = field(j, "tools"); tl && !(tl->is_array() && tl->empty()))
        bad("tools", "'tools' (function calling) is not supported by this server", "unsupported_value");

    for (const char* name : {"max_completion_tokens", "max_tokens"}) {
        if (auto v = integer(j, name)) {
            if (*v < 1 || *v > limits.maxTokens)
                bad(name, "'" + std::string(name) + "' is " + std::to_string(*v) + "; it must lie between 1 and " +
                              std::to_string(limits.maxTokens) + " (this server's limit)");
            r.maxTokens = static_cast<int>(*v);
            break;  // max_completion_tokens wins when both are given
        }
    }
    r.temperature = number(j, "temperature", 1.0, 0.0, 2.0);
    r.topP = number(j, "top_p", 1.0, 0.0, 1.0);
    if (r.topP == 0.0) bad("top_p", "'top_p' is 0; it must be greater than 0");
    if (auto s = integer(j, "seed")) r.seed = static_cast<std::uint64_t>(*s);
    if (const json* st = field(j, "stop")) {
        if (st->is_string()) {
            r.stop.push_back(st->get<std::string>());
        } else if (st->is_array()) {
            for (std::size_t i = 0; i < st->size(); ++i) {
                if (!(*st)[i].is_string()) wrongType("stop[" + std::to_string(i) + "]", (*st)[i], "a string");
                r.stop.push_back((*st)[i].get<std::string>());
            }
        } else {
            wrongType("stop", *st, "a string or an array of strings");
        }
        if (r.stop.size() > limits.maxStops)
            bad("stop", "'stop' has " + std::to_string(r.stop.size()) + " strings; at most " +
                            std::to_string(limits.maxStops) + " are allowed");
        for (const auto& s : r.stop) {
            if (s.empty()) bad("stop", "'stop' holds an empty string");
            if (s.size() > limits.maxStopBytes)
                bad("stop", "'stop' holds a string of " + std::to_string(s.size()) + " bytes; at most " +
                                std::to_string(limits.maxStopBytes) + " are allowed");
        }
    }
    r.stream = boolean(j, "stream", false);
    if (const json* so = field(j, "stream_options")) {
        if (!so->is_object()) wrongType("stream_options", *so, "an object");
        if (const json* iu = field(*so, "include_usage")) {
            if (!iu->is_boolean()) wrongType("stream_options.include_usage", *iu, "a boolean");
            r.includeUsage = iu->get<bool>();
        }
    }
    r.ignoreEos = boolean(j, "ignore_eos", false);
    return r;
}

std::string formatChatPrompt(const std::vector<ChatMessage>& messages) {
    std::string out;
    for (const auto& m : messages) {
        std::string role = m.role;
        if (!role.empty()) role[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(role[0])));
        out += role + ": " + m.content + "\n";
    }
    out += "Assistant:";
    return out;
}

const std::vector<std::string>& chatTurnStops() {
    static const std::vector<std::string> stops = {"\nUser:", "\nSystem:", "\nAssistant:", "\nTool:"};
    return stops;
}

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
    stops_.erase(std::remove_if(stops_.begin(), stops_.end(), [](const std::string& s) { return s.empty(); }), stops_.end());
}

std::string StopMatcher::push(std::string_view text) {
    if (stopped_) return {};
    held_ += text;
    std::size_t first = std::string::npos;
    for (const auto& s : stops_) first = std::min(first, held_.find(s));
    if (first != std::string::npos) {
        stopped_ = true;
        std::string out = held_.substr(0, first);
        held_.clear();
        return out;
    }
    // Keep the longest tail of the text that is the beginning of some stop string.
    std::size_t keep = 0;
    for (const auto& s : stops_) {
        for (std::size_t len = std::min(s.size() - 1, held_.size()); len > keep; --len)
            if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
                keep = len;
                break;
            }
    }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
}

std::string StopMatcher::finish() {
    std::string out;
    out.swap(held_);
    return stopped_ ? std::string() : out;
}

json usageJson(const Usage& u) {
    return {{"prompt_tokens", u.promptTokens}, {"completion_tokens", u.completionTokens},
            {"total_tokens", u.promptTokens + u.completionTokens}};
}

json completionResponse(Endpoint endpoint, const std::string& id, std::int64_t created, const std::string& model,
                        const std::string& text, const std::string& finishReason, const Usage& usage) {
    json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finishReason}};
    if (endpoint == Endpoint::Chat)
        choice["message"] = {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}};
    else
        choice["text"] = text;
    return {{"id", id},
            {"object", endpoint == Endpoint::Chat ? "chat.completion" : "text_completion"},
            {"created", created},
            {"model", model},
            {"system_fingerprint", nullptr},
            {"choices", json::array({choice})},
            {"usage", usageJson(usage)}};
}

json streamChunk(Endpoint endpoint, const std::string& id, std::int64_t created, const std::string& model,
                 const std::optional<std::string>& text, bool role, const std::optional<std::string>& finishReason,
                 bool includeUsage) {
    json choice = {{"index", 0}, {"logprobs", nullptr},
                   {"finish_reason", finishReason ? json(*finishReason) : json(nullptr)}};
    if (endpoint == Endpoint::Chat) {
        json delta = json::object();
        if (role) delta["role"] = "assistant";
        if (text) delta["content"] = *text;
        choice["delta"] = delta;
    } else {
        choice["text"] = text.value_or("");
    }
    json c = {{"id", id},
              {"object", endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
              {"created", created},
              {"model", model},
              {"system_fingerprint", nullptr},
              {"choices", json::array({choice})}};
    if (includeUsage) c["usage"] = nullptr;
    return c;
}

json usageChunk(Endpoint endpoint, const std::string& id, std::int64_t created, const std::string& model,
                const Usage& usage) {
    return {{"id", id},
            {"object", endpoint == Endpoint::Chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model},
            {"system_fingerprint", nullptr},
            {"choices", json::array()},
            {"usage", usageJson(usage)}};
}

std::string sseEvent(const json& j) { return "data: " + j.dump() + "\n\n"; }
std::string sseDone() { return "data: [DONE]\n\n"; }

json modelObject(const std::string& name, std::int64_t created) {
    return {{"id", name}, {"object", "model"}, {"created", created}, {"owned_by", "qcw"}};
}

json modelList(const std::vector<std::string>& names, std::int64_t created) {
    json data = json::array();
    for (const auto& n : names) data.push_back(modelObject(n, created));
    return {{"object", "list"}, {"data", data}};
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
    // Walks the whole of `a` whatever b is; the length difference is folded into the result.
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const unsigned char cb = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(static_cast<unsigned char>(a[i]) ^ cb);
    }
    return diff == 0;
}

bool keyAccepted(const std::string& expected, const std::string& authorization, const std::string& apiKey) {
    if (expected.empty()) return true;
    bool ok = false;
    static const std::string bearer = "Bearer ";
    if (authorization.size() > bearer.size() && authorization.compare(0, bearer.size(), bearer) == 0)
        ok = constantTimeEquals(expected, std::string_view(authorization).substr(bearer.size())) || ok;
    if (!apiKey.empty()) ok = constantTimeEquals(expected, apiKey) || ok;
    return ok;
}

bool isLoopbackHost(const std::string& host) {
    if (host == "localhost" || host == "::1" || host == "[::1]") return true;
    // 127.0.0.0/8 in dotted form
    if (host.rfind("127.", 0) != 0) return false;
    int dots = 0;
    for (char c : host) {
        if (c == '.') ++dots;
        else if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    return dots == 3;
}

}  // namespace qcw::serve
