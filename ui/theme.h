#pragma once
// Fusion style with a light or dark palette. "System" follows the platform: on Qt >= 6.5
// through QStyleHints::colorScheme (and its change signal), before that through the
// platform's palette (Qt keeps the application palette in step with the platform theme as
// long as the application does not set one).
#include <QString>

namespace qcw::ui {

enum class Theme { System, Light, Dark };

Theme themeFromString(const QString& name, Theme fallback = Theme::System);  // system|light|dark
QString themeToString(Theme theme);
// Sets the Fusion style and the palette for `theme`. Call after the QApplication exists.
void applyTheme(Theme theme);
Theme currentTheme();
// Whether the palette now in use is dark.
bool isDarkPalette();

}  // namespace qcw::ui
