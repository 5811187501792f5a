#pragma once
// Readable names of the scrubber's kinds (core's RedactionSpan::kind: "fortigate_psk", "jwt",
// "ip", ...), for the documents pane's list, preview tooltips and secrets report. An unknown
// kind reads as itself, underscores as spaces.
#include <QString>

#include <string>

namespace qcw::ui {

QString secretKindLabel(const std::string& kind);
// IP and e-mail placeholders: anonymised values, not secrets.
bool isAnonymization(const std::string& kind);

}  // namespace qcw::ui
