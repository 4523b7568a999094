#pragma once
// A minimal line-chart writer for benchmark figures (SVG, no dependencies): `strata bench --plot`.
#include <string>
#include <utility>
#include <vector>

namespace strata::cli {

struct PlotSeries {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in x order
};

// Writes an SVG line chart with linear axes from 0 to the largest value. Throws strata::Error if
// the file cannot be written.
void write_svg_plot(const std::string& path, const std::string& title, const std::string& x_label,
                    const std::string& y_label, std::vector<PlotSeries> series);

}  // namespace strata::cli
