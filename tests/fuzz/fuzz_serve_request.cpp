// The server's request -> response path without a socket: the first byte picks the
// endpoint (chat or completions) and whether the model comes from an Azure deployment
// path; the rest is the POST body. parseRequest() either throws ApiError (an HTTP 4xx with
// OpenAI's error object) or gives a request within the limits, which is then formatted into
// a prompt, streamed through the stop matcher (the body itself standing in for the model's
// output) and answered as a response and as server-sent events, all valid JSON.
#include "fuzz_support.h"
#include "serve/protocol.h"

using namespace qcw::serve;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const Endpoint ep = (data[0] & 1) ? Endpoint::Completion : Endpoint::Chat;
    std::optional<std::string> deployment;
    if (data[0] & 2) deployment = "fuzz-deployment";
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    RequestLimits limits;
    GenRequest req;
    try {
        req = parseRequest(ep, body, limits, deployment);
    } catch (const ApiError& e) {
        if (e.status < 400 || e.status > 499) fuzz::violated("request error is not a 4xx");
        auto j = errorBody(e);
        (void)j.dump();
        return 0;
    }
    if (req.messages.size() > limits.maxMessages) fuzz::violated("too many messages accepted");
    if (req.maxTokens && (*req.maxTokens < 0 || *req.maxTokens > limits.maxTokens)) fuzz::violated("max_tokens");
    if (req.stop.size() > limits.maxStops) fuzz::violated("too many stops accepted");
    for (const auto& s : req.stop)
        if (s.size() > limits.maxStopBytes) fuzz::violated("stop too long accepted");
    std::string prompt = ep == Endpoint::Chat ? formatChatPrompt(req.messages) : req.prompt;
    auto stops = req.stop;
    if (ep == Endpoint::Chat)
        for (const auto& s : chatTurnStops()) stops.push_back(s);
    StopMatcher m(stops);
    std::string out;
    for (std::size_t i = 0; i < body.size() && !m.stopped(); i += 7) out += m.push(body.substr(i, 7));
    if (!m.stopped()) out += m.finish();
    const std::string model = req.model;
    auto resp = completionResponse(ep, "cmpl-1", 0, model, out, m.stopped() ? "stop" : "length", Usage{3, 4});
    (void)resp.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    auto chunk = streamChunk(ep, "cmpl-1", 0, model, out, true, std::string("stop"), req.includeUsage);
    (void)sseEvent(chunk);
    (void)sseEvent(usageChunk(ep, "cmpl-1", 0, model, Usage{3, 4}));
    (void)prompt;
    return 0;
}
