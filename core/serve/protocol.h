#pragma once
// The OpenAI-compatible protocol, without sockets: request parsing and validation, chat
// formatting, stop strings, response and server-sent-event shapes, API keys. The HTTP
// server (server.cpp) only moves bytes between these functions and the engine.
//
// Shapes follow what the official clients (openai, Azure OpenAI) send and parse:
//   chat.completion / chat.completion.chunk (choices[].message / choices[].delta),
//   text_completion (choices[].text), usage {prompt_tokens, completion_tokens, total_tokens},
//   errors {"error": {"message", "type", "param", "code"}}.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace qcw::serve {

// An error answered to the client with its HTTP status and OpenAI's error object.
struct ApiError : std::runtime_error {
    ApiError(int status, std::string message, std::string type = "invalid_request_error", std::string param = {},
             std::string code = {});
    int status;
    std::string type, param, code;
};
// {"error": {"message", "type", "param", "code"}} (param and code null when empty).
nlohmann::json errorBody(const ApiError& e);

enum class Endpoint { Chat, Completion };

struct ChatMessage {
    std::string role;     // system, user, assistant, tool
    std::string content;
};

// Bounds the server puts on what one request may ask for.
struct RequestLimits {
    std::size_t maxMessages = 256;
    int maxTokens = 2048;           // largest max_tokens accepted
    std::size_t maxStops = 4;       // as OpenAI
    std::size_t maxStopBytes = 256;
};

struct GenRequest {
    Endpoint endpoint = Endpoint::Chat;
    std::string model;
    std::vector<ChatMessage> messages;        // chat
    std::string prompt;                       // completions, text prompt
    std::vector<std::int64_t> promptIds;      // completions, prompt given as token ids
    bool promptIsIds = false;
    std::optional<int> maxTokens;             // max_tokens or max_completion_tokens
    double temperature = 1.0;                 // 0: greedy
    double topP = 1.0;
    std::optional<std::uint64_t> seed;
    std::vector<std::string> stop;
    bool stream = false;
    bool includeUsage = false;                // stream_options.include_usage
    bool ignoreEos = false;                   // extension (as vLLM): keep going past end-of-text
};

// Parses and validates a request body. Unknown fields are ignored; null counts as absent;
// wrong types, out-of-range values, n != 1 and unsupported options throw ApiError (400)
// naming the field in `param`. `modelFromPath` (Azure deployments) replaces the body's model.
GenRequest parseRequest(Endpoint endpoint, std::string_view body, const RequestLimits& limits,
                        const std::optional<std::string>& modelFromPath = std::nullopt);

// The one plain chat format (the fine-tuning data builder writes chat records the same way):
// every message as "Role: content\n" (Role capitalised; "developer" counts as System), then
// "Assistant:" for the answer to come.
std::string formatChatPrompt(const std::vector<ChatMessage>& messages);
// Stop strings a chat answer always ends at: the next turn of the plain format.
const std::vector<std::string>& chatTurnStops();

// Holds back text that may be the start of a stop string, so a stop split over several
// tokens is caught and never sent; the stop text itself is not returned.
class StopMatcher {
public:
    explicit StopMatcher(std::vector<std::string> stops);
    // Text that is now safe to send (may be empty).
    std::string push(std::string_view text);
    // Whatever is still held back, once generation ended without a stop.
    std::string finish();
    bool stopped() const { return stopped_; }

private:
    std::vector<std::string> stops_;
    std::string held_;
    bool stopped_ = false;
};

struct Usage {
    std::int64_t promptTokens = 0, completionTokens = 0;
};
nlohmann::json usageJson(const Usage& u);

// Non-streamed answer: chat.completion or text_completion.
nlohmann::json completionResponse(Endpoint endpoint, const std::string& id, std::int64_t created,
                                  const std::string& model, const std::string& text, const std::string& finishReason,
                                  const Usage& usage);
// One streamed chunk. Chat: delta {"role":"assistant"} when `role`, {"content"} when `text`,
// {} otherwise; finish_reason null unless given. includeUsage adds "usage": null (OpenAI
// sends it on every chunk when asked for usage).
nlohmann::json streamChunk(Endpoint endpoint, const std::string& id, std::int64_t created, const std::string& model,
                           const std::optional<std::string>& text, bool role,
                           const std::optional<std::string>& finishReason, bool includeUsage);
// The last chunk when usage was asked for: choices [] and usage.
nlohmann::json usageChunk(Endpoint endpoint, const std::string& id, std::int64_t created, const std::string& model,
                          const Usage& usage);
// "data: <json>\n\n"
std::string sseEvent(const nlohmann::json& j);
std::string sseDone();  // "data: [DONE]\n\n"

// GET /v1/models: {"object":"list","data":[{"id","object":"model","created","owned_by"}]}
nlohmann::json modelList(const std::vector<std::string>& names, std::int64_t created);
nlohmann::json modelObject(const std::string& name, std::int64_t created);

// API keys. Compares in time independent of where the strings differ.
bool constantTimeEquals(std::string_view a, std::string_view b);
// The key a request presents: "Authorization: Bearer KEY" or "api-key: KEY" (either accepted).
bool keyAccepted(const std::string& expected, const std::string& authorizationHeader, const std::string& apiKeyHeader);

// Whether binding `host` keeps the server on this machine (127.0.0.0/8, ::1, localhost).
bool isLoopbackHost(const std::string& host);

}  // namespace qcw::serve
