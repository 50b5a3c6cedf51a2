#include "app/demo.h"

#include <cstdio>
#include <filesystem>

#include "app/network.h"
#include "app/pick.h"
#include "app/train.h"
#include "engine/cpu.h"
#include "image/simulate.h"
#include "io/config.h"
#include "io/micrograph.h"
#include "pick/pipeline.h"

namespace fs = std::filesystem;

namespace cupick {

namespace {

// On the CPU the micrographs are shrunk 4x to input 256: the particles are 32 input pixels across
// there, two grid cells (smaller ones would share cells; 64-pixel particles at 1024 on the GPU
// span four).
SimulationOptions demo_micrographs(bool gpu) {
  SimulationOptions sim;
  sim.width = sim.height = 1024;
  sim.box_size = gpu ? 64 : 128;
  sim.density = gpu ? 0.25 : 0.3;
  sim.snr = 0.1;
  return sim;
}

// Training, validation and test micrographs. Validation has micrographs of its own: a 20% split
// of the training set would be a handful, and the best epoch, chosen on it, a matter of luck.
void simulate_demo_data(SimulationOptions sim, const fs::path& dir) {
  sim.count = 40;
  sim.seed = 1;
  simulate_dataset(sim, (dir / "train").string());
  sim.count = 8;
  sim.seed = 3;
  simulate_dataset(sim, (dir / "valid").string());
  sim.count = 10;
  sim.seed = 2;
  simulate_dataset(sim, (dir / "test").string());
}

Config demo_config(const fs::path& dir, bool gpu, int box_size, int epochs) {
  return make_config(box_size, {{"architecture", gpu ? "PhosaurusNet" : "cupick-cpu-demo"},
                                {"input_size", gpu ? "1024" : "256"},
                                {"train_image_folder", (dir / "train" / "micrographs").string()},
                                {"train_annot_folder", (dir / "train" / "box").string()},
                                {"valid_image_folder", (dir / "valid" / "micrographs").string()},
                                {"valid_annot_folder", (dir / "valid" / "box").string()},
                                {"saved_weights_name", (dir / "model.safetensors").string()},
                                {"log_path", (dir / "logs").string()},
                                {"filtered_output", (dir / "filtered").string()},
                                {"batch_size", "4"},
                                {"train_times", gpu ? "10" : "4"},
                                {"learning_rate", gpu ? "1e-4" : "1e-3"},
                                {"nb_epoch", std::to_string(epochs > 0 ? epochs : gpu ? 60 : 15)},
                                {"warmup", "1"}});
}

}  // namespace

Evaluation run_demo(const DemoOptions& options, Context& ctx) {
  const bool gpu = ctx.on_gpu();
  const fs::path dir = options.folder;
  fs::create_directories(dir);
  const SimulationOptions sim = demo_micrographs(gpu);
  std::printf("== 1. simulating micrographs (%dx%d, particles of %d px, SNR %.2f)\n", sim.width, sim.height,
              sim.box_size, sim.snr);
  simulate_demo_data(sim, dir);

  const Config config = demo_config(dir, gpu, sim.box_size, options.epochs);
  const std::string config_path = (dir / "config.json").string();
  save_config(config_path, config, true);
  const InputSize& input = config.model.input_size;
  std::printf("== 2. training %s at %dx%d on %s (config: %s)\n", gpu ? "PhosaurusNet" : "a small network", input.width,
              input.height, ctx.describe().c_str(), config_path.c_str());
  TrainRequest request;
  request.early = 15;
  train_from_config(config, config_path, ctx, request);

  const std::vector<std::string> test = list_micrographs((dir / "test" / "micrographs").string());
  std::printf("== 3. picking the %zu held-out micrographs\n", test.size());
  Graph graph = load_network(config.model.architecture, ctx, config.train.saved_weights_name);
  PickOptions pick;
  pick.overwrite = true;
  const PickSummary s = pick_micrographs(graph, ctx, config.model, test, (dir / "picks").string(), pick);
  std::printf("%zu particles picked above confidence %.2f, %.1f micrographs/s\n", s.boxes, pick.threshold,
              s.seconds > 0 ? s.picked / s.seconds : 0.0);

  std::printf("== 4. evaluating the picks against the simulated particles\n");
  const Evaluation e = evaluate_folders((dir / "picks" / "CBOX").string(), (dir / "test" / "box").string(), sim.box_size);
  write_report_json((dir / "report.json").string(), e);
  write_pr_curve((dir / "precision_recall.png").string(), e);

  // The page to look at the picks with, the slider at the best threshold, right and wrong in colour.
  ReviewOptions review;
  review.threshold = float(e.best_threshold);
  review.title = "cupick demo: the held-out micrographs";
  review.progress = false;
  review.threads = cpu::threads();
  review_picks((dir / "picks").string(), test, (dir / "test" / "box").string(), sim.box_size,
               (dir / "review").string(), review);
  return e;
}

}  // namespace cupick
