#include "trainer/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "common/file_util.h"
#include "trainer/model_dir.h"

namespace msrec {
namespace {

// A JSON value: just what metrics.jsonl holds.
struct Json {
  enum Kind { kNull, kNumber, kString, kArray, kObject } kind = kNull;
  double number = std::nan("");
  std::string text;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
  const Json& operator[](const std::string& key) const {
    static const Json none;
    auto it = fields.find(key);
    return it == fields.end() ? none : it->second;
  }
  double Num() const { return kind == kNumber ? number : std::nan(""); }
};

class JsonParser {
 public:
  explicit JsonParser(const std::string& s) : s_(s) {}
  bool Parse(Json* out) {
    if (!Value(out)) return false;
    Skip();
    return pos_ == s_.size();
  }

 private:
  void Skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool Value(Json* out) {
    Skip();
    if (pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (c == '{') return Object(out);
    if (c == '[') return Array(out);
    if (c == '"') {
      out->kind = Json::kString;
      return String(&out->text);
    }
    for (const auto& [word, value] : {std::pair<const char*, double>{"true", 1}, {"false", 0}}) {
      if (s_.compare(pos_, std::strlen(word), word) == 0) {
        out->kind = Json::kNumber;
        out->number = value;
        pos_ += std::strlen(word);
        return true;
      }
    }
    if (s_.compare(pos_, 4, "null") == 0) {
      pos_ += 4;
      return true;
    }
    char* end = nullptr;
    out->number = std::strtod(s_.c_str() + pos_, &end);
    if (end == s_.c_str() + pos_) return false;
    out->kind = Json::kNumber;
    pos_ = size_t(end - s_.c_str());
    return true;
  }
  bool String(std::string* out) {
    ++pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
      out->push_back(s_[pos_++]);
    }
    return pos_++ < s_.size();
  }
  bool Array(Json* out) {
    out->kind = Json::kArray;
    ++pos_;
    Skip();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      out->items.emplace_back();
      if (!Value(&out->items.back())) return false;
      Skip();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_++] == ']') return true;
    }
  }
  bool Object(Json* out) {
    out->kind = Json::kObject;
    ++pos_;
    Skip();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      Skip();
      std::string key;
      if (pos_ >= s_.size() || s_[pos_] != '"' || !String(&key)) return false;
      Skip();
      if (pos_ >= s_.size() || s_[pos_++] != ':') return false;
      if (!Value(&out->fields[key])) return false;
      Skip();
      if (pos_ >= s_.size()) return false;
      if (s_[pos_++] == '}') return true;
    }
  }
  const std::string& s_;
  size_t pos_ = 0;
};

struct Point {
  double x, y;
};
struct Series {
  std::string name;
  std::vector<Point> points;
};

// One run read back from its model directory.
struct Run {
  std::string dir, name;
  std::vector<std::string> scenarios;
  std::vector<std::pair<std::string, std::string>> settings;  // job.txt
  Series loss{"loss", {}}, rate{"samples/s", {}};
  std::vector<Json> val;  // eval events of split val, in order
  Json test, phases;
};

Result<Run> LoadRun(const std::string& dir) {
  Run run;
  run.dir = dir;
  run.name = dir.substr(dir.find_last_of('/') + 1);
  const ModelDir md(dir);
  MSREC_ASSIGN_OR_RETURN(std::string job, ReadFile(md.job()));
  std::istringstream lines(job);
  for (std::string line; std::getline(lines, line);) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) run.settings.emplace_back(line.substr(0, eq), line.substr(eq + 1));
  }
  MSREC_ASSIGN_OR_RETURN(std::string map, ReadFile(md.scenario_map()));
  std::istringstream map_lines(map);
  for (std::string line; std::getline(map_lines, line);) {
    if (!line.empty()) run.scenarios.push_back(line.substr(0, line.find('\t')));
  }
  MSREC_ASSIGN_OR_RETURN(std::string metrics, ReadFile(md.metrics()));
  std::vector<Json> events;
  std::istringstream in(metrics);
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    Json e;
    if (!JsonParser(line).Parse(&e)) {
      return Status::Corruption(md.metrics() + ":" + std::to_string(line_number) + ": not JSON");
    }
    if (e["event"].text == "start") events.clear();  // the last run only
    events.push_back(std::move(e));
  }
  for (const Json& e : events) {
    const std::string& kind = e["event"].text;
    if (kind == "train") {
      run.loss.points.push_back({e["step"].Num(), e["loss"].Num()});
      run.rate.points.push_back({e["step"].Num(), e["samples_per_sec"].Num()});
    } else if (kind == "eval" && e["split"].text == "val") {
      run.val.push_back(e);
    } else if (kind == "eval" && e["split"].text == "test") {
      run.test = e;
    } else if (kind == "phases") {
      run.phases = e;
    }
  }
  return run;
}

const char* const kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                               "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string Fmt(double v, const char* format = "%.4g") {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// An SVG line chart; `diagonal` draws y = x (calibration); `markers_only`
// draws points without lines.
std::string Chart(const std::string& title, const std::string& x_label,
                  const std::vector<Series>& series, bool diagonal = false,
                  bool markers_only = false) {
  const double W = 560, H = 300, L = 60, R = 150, T = 30, B = 40;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const Series& s : series) {
    for (const Point& p : s.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      x0 = std::min(x0, p.x);
      x1 = std::max(x1, p.x);
      y0 = std::min(y0, p.y);
      y1 = std::max(y1, p.y);
    }
  }
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
      << "' style='background:#fff;border:1px solid #ddd;margin:6px'>"
      << "<text x='" << L << "' y='18' font-size='14' font-family='sans-serif'>" << Escape(title)
      << "</text>";
  if (!std::isfinite(x0)) return svg.str() + "<text x='60' y='150'>no data</text></svg>";
  if (diagonal) {  // square axes, so y = x is the diagonal
    x0 = y0 = std::min(x0, y0);
    x1 = y1 = std::max(x1, y1);
  }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + (y0 == 0 ? 1 : std::fabs(y0) * 0.1);
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto Y = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  svg << "<rect x='" << L << "' y='" << T << "' width='" << W - L - R << "' height='" << H - T - B
      << "' fill='none' stroke='#999'/>";
  for (int i = 0; i <= 4; ++i) {
    const double y = y0 + (y1 - y0) * i / 4, x = x0 + (x1 - x0) * i / 4;
    svg << "<text x='" << L - 4 << "' y='" << Y(y) + 4 << "' font-size='10' text-anchor='end'>"
        << Fmt(y) << "</text><text x='" << X(x) << "' y='" << H - B + 14
        << "' font-size='10' text-anchor='middle'>" << Fmt(x) << "</text>";
  }
  svg << "<text x='" << (L + W - R) / 2 << "' y='" << H - 8
      << "' font-size='11' text-anchor='middle'>" << Escape(x_label) << "</text>";
  if (diagonal) {
    svg << "<line x1='" << X(x0) << "' y1='" << Y(x0) << "' x2='" << X(x1) << "' y2='" << Y(x1)
        << "' stroke='#bbb' stroke-dasharray='4'/>";
  }
  for (size_t k = 0; k < series.size(); ++k) {
    const char* color = kColors[k % 10];
    std::ostringstream path;
    for (const Point& p : series[k].points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      path << X(p.x) << "," << Y(p.y) << " ";
      svg << "<circle cx='" << X(p.x) << "' cy='" << Y(p.y) << "' r='" << (markers_only ? 4 : 2)
          << "' fill='" << color << "'/>";
    }
    if (!markers_only) {
      svg << "<polyline fill='none' stroke='" << color << "' stroke-width='1.5' points='"
          << path.str() << "'/>";
    }
    svg << "<rect x='" << W - R + 10 << "' y='" << T + 14 * k << "' width='10' height='10' fill='"
        << color << "'/><text x='" << W - R + 24 << "' y='" << T + 9 + 14 * k
        << "' font-size='11'>" << Escape(series[k].name) << "</text>";
  }
  return svg.str() + "</svg>";
}

// Per-epoch validation series of `metric` (overall, then per scenario).
std::vector<Series> ValSeries(const Run& run, const std::string& metric, bool per_scenario,
                              const std::string& prefix) {
  std::vector<Series> out;
  out.push_back({prefix + "overall", {}});
  for (const Json& e : run.val) {
    out[0].points.push_back({e["epoch"].Num(), e["metrics"]["overall"][metric].Num()});
  }
  if (!per_scenario) return out;
  for (size_t k = 0; k < run.scenarios.size(); ++k) {
    Series s{prefix + run.scenarios[k], {}};
    for (const Json& e : run.val) {
      const Json& list = e["metrics"]["scenarios"];
      if (k < list.items.size()) s.points.push_back({e["epoch"].Num(), list.items[k][metric].Num()});
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string TestTable(const std::vector<Run>& runs) {
  std::ostringstream h;
  h << "<table><tr><th>run</th><th>scenario</th><th>count</th><th>AUC</th><th>logloss</th>"
    << "<th>gAUC</th><th>positive rate</th><th>mean prediction</th></tr>";
  for (const Run& run : runs) {
    const Json& m = run.test["metrics"];
    if (m.kind != Json::kObject) continue;
    auto row = [&](const std::string& name, const Json& g) {
      h << "<tr><td>" << Escape(run.name) << "</td><td>" << Escape(name) << "</td><td>"
        << Fmt(g["count"].Num(), "%.0f") << "</td><td>" << Fmt(g["auc"].Num(), "%.4f")
        << "</td><td>" << Fmt(g["logloss"].Num(), "%.4f") << "</td><td>"
        << Fmt(g["gauc"].Num(), "%.4f") << "</td><td>" << Fmt(g["positive_rate"].Num(), "%.4f")
        << "</td><td>" << Fmt(g["mean_prediction"].Num(), "%.4f") << "</td></tr>";
    };
    for (size_t k = 0; k < m["scenarios"].items.size(); ++k) {
      row(k < run.scenarios.size() ? run.scenarios[k] : std::to_string(k), m["scenarios"].items[k]);
    }
    row("overall", m["overall"]);
  }
  return h.str() + "</table>";
}

std::string TimeSplit(const std::vector<Run>& runs) {
  std::ostringstream svg;
  const double W = 560, bar = 22;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='"
      << 40 + bar * 1.5 * runs.size() << "' style='background:#fff;border:1px solid #ddd;margin:6px'>"
      << "<text x='10' y='18' font-size='14' font-family='sans-serif'>Training time by phase</text>";
  const char* phases[] = {"read", "pull", "compute", "push"};
  for (size_t r = 0; r < runs.size(); ++r) {
    double total = 0;
    for (const char* p : phases) {
      const double v = runs[r].phases[p].Num();
      if (std::isfinite(v) && v > 0) total += v;
    }
    const double y = 30 + bar * 1.5 * r;
    svg << "<text x='10' y='" << y + 15 << "' font-size='11'>" << Escape(runs[r].name) << "</text>";
    double x = 130;
    for (int p = 0; p < 4; ++p) {
      const double v = runs[r].phases[phases[p]].Num();
      const double w = total > 0 && std::isfinite(v) ? v / total * (W - 140) : 0;
      svg << "<rect x='" << x << "' y='" << y << "' width='" << w << "' height='" << bar
          << "' fill='" << kColors[p] << "'><title>" << phases[p] << " " << Fmt(v) << " s</title></rect>";
      if (w > 40) {
        svg << "<text x='" << x + 3 << "' y='" << y + 15 << "' font-size='10' fill='#fff'>"
            << phases[p] << " " << Fmt(v, "%.1f") << "s</text>";
      }
      x += w;
    }
  }
  return svg.str() + "</svg>";
}

std::string Calibration(const std::vector<Run>& runs) {
  std::vector<Series> series;
  for (const Run& run : runs) {
    Series s{run.name, {}};
    for (const Json& g : run.test["metrics"]["scenarios"].items) {
      s.points.push_back({g["mean_prediction"].Num(), g["positive_rate"].Num()});
    }
    series.push_back(std::move(s));
  }
  return Chart("Calibration per scenario (test): positive rate vs mean prediction",
               "mean prediction", series, /*diagonal=*/true, /*markers_only=*/true);
}

// Calibration by score bucket (test): positive rate against mean prediction
// of each non-empty bucket; per scenario for one run, overall per run when
// comparing.
std::string BucketCalibration(const std::vector<Run>& runs) {
  std::vector<Series> series;
  auto add = [&](const std::string& name, const Json& group) {
    Series s{name, {}};
    for (const Json& b : group["calibration"].items) {
      if (b.items.size() == 3 && b.items[0].Num() > 0) {
        s.points.push_back({b.items[1].Num(), b.items[2].Num()});
      }
    }
    series.push_back(std::move(s));
  };
  for (const Run& run : runs) {
    const Json& m = run.test["metrics"];
    add(runs.size() == 1 ? "overall" : run.name, m["overall"]);
    if (runs.size() > 1) continue;
    for (size_t k = 0; k < m["scenarios"].items.size() && k < run.scenarios.size(); ++k) {
      add(run.scenarios[k], m["scenarios"].items[k]);
    }
  }
  return Chart("Calibration by score bucket (test): positive rate vs mean prediction",
               "mean prediction in the bucket", series, /*diagonal=*/true);
}

std::string Settings(const std::vector<Run>& runs) {
  std::ostringstream h;
  for (const Run& run : runs) {
    h << "<h3>" << Escape(run.name) << "</h3><table>";
    for (const auto& [k, v] : run.settings) {
      h << "<tr><td>" << Escape(k) << "</td><td>" << Escape(v) << "</td></tr>";
    }
    h << "</table>";
  }
  return h.str();
}

std::string Html(const std::vector<Run>& runs) {
  std::ostringstream h;
  h << "<!DOCTYPE html><html><head><meta charset='utf-8'><title>msrec report</title><style>"
    << "body{font-family:sans-serif;margin:20px;color:#222}table{border-collapse:collapse;"
    << "margin:6px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:12px;text-align:right}"
    << "th{background:#f3f3f3}</style></head><body><h1>msrec report</h1><p>";
  for (const Run& run : runs) h << Escape(run.dir) << "<br>";
  h << "</p><h2>Training</h2>";
  std::vector<Series> loss, rate, val_auc;
  for (const Run& run : runs) {
    loss.push_back({run.name, run.loss.points});
    rate.push_back({run.name, run.rate.points});
  }
  h << Chart("Training loss", "step", loss) << Chart("Samples per second", "step", rate);
  h << "<h2>Validation</h2>";
  if (runs.size() == 1) {
    h << Chart("Validation AUC per epoch", "epoch", ValSeries(runs[0], "auc", true, ""))
      << Chart("Validation logloss per epoch", "epoch", ValSeries(runs[0], "logloss", true, ""));
  } else {
    std::vector<Series> auc, logloss;
    for (const Run& run : runs) {
      auc.push_back(ValSeries(run, "auc", false, run.name + " ")[0]);
      logloss.push_back(ValSeries(run, "logloss", false, run.name + " ")[0]);
    }
    h << Chart("Validation AUC per epoch (overall)", "epoch", auc)
      << Chart("Validation logloss per epoch (overall)", "epoch", logloss);
  }
  h << "<h2>Test</h2>" << TestTable(runs) << Calibration(runs) << BucketCalibration(runs)
    << "<h2>Time</h2>"
    << TimeSplit(runs) << "<h2>Settings</h2>" << Settings(runs) << "</body></html>\n";
  return h.str();
}

}  // namespace

Status WriteReport(const ReportOptions& options) {
  if (options.model_dirs.empty()) return Status::InvalidArgument("report needs --model_dir or --compare");
  std::vector<Run> runs;
  for (const std::string& dir : options.model_dirs) {
    MSREC_ASSIGN_OR_RETURN(Run run, LoadRun(dir));
    runs.push_back(std::move(run));
  }
  const std::string html = Html(runs);
  return WriteAtomically(options.output, [&](const std::string& tmp) {
    std::ofstream out(tmp);
    out << html;
    out.close();
    return out ? Status::OK() : Status::IoError("writing " + tmp + " failed");
  });
}

}  // namespace msrec
