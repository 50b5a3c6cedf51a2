// The demo: the whole product on simulated micrographs, with no data of one's own. Simulate,
// train, pick the held-out micrographs, evaluate against the simulated particles.
#pragma once
#include <string>

#include "engine/context.h"
#include "pick/evaluate.h"

namespace cupick {

struct DemoOptions {
  std::string folder = "demo";  // everything goes here
  int epochs = 0;               // 0: 60 on a GPU, 15 on the CPU
};

// Runs the four steps on ctx's device, printing a heading for each, and writes the picks,
// report.json, precision_recall.png and the review page (review/index.html) into the folder. A GPU trains PhosaurusNet at crYOLO's
// sizes; the CPU a small network (nets/cpu_demo.json) on micrographs shrunk 4x.
Evaluation run_demo(const DemoOptions& options, Context& ctx);

}  // namespace cupick
