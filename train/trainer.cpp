#include "train/trainer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <tuple>
#include <map>
#include <numeric>
#include <optional>

#include "engine/background.h"
#include "engine/layers/conv.h"
#include "image/grid.h"
#include "image/plot.h"
#include "io/files.h"
#include "io/weights.h"
#include "train/checks.h"
#include "train/optimizer.h"
#include "train/tensorboard.h"

namespace cupick {

namespace {

std::atomic<bool> g_stop{false};

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string clock_text(double s) {
  const int t = int(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%d:%02d", t / 60, t % 60);
  return buf;
}

// training_curves.{png,svg} (loss and validation loss per epoch, the best epoch marked) and
// learning_rate.{png,svg} (its log10: Plateau divides it by 10 at a time), drawn again each epoch.
void write_training_plots(const std::string& folder, const std::vector<EpochLog>& history) {
  if (history.empty()) return;
  LinePlot losses;
  losses.title = "Training: loss per epoch";
  losses.x_label = "epoch";
  losses.y_label = "loss (YOLO loss, per image)";
  losses.x_min = 1;
  losses.x_max = std::max(2, history.back().epoch);
  std::tie(losses.grid_step, losses.label_step) = round_steps(losses.x_min, losses.x_max);
  losses.grid_step = std::max(1.0, losses.grid_step);  // whole epochs
  losses.label_step = std::max(1.0, losses.label_step);
  PlotSeries train{{}, Rgb{31, 119, 180}, "loss (training)"}, valid{{}, Rgb{255, 127, 14}, "val_loss (validation)"};
  double top = 0;
  const EpochLog* best = nullptr;
  for (const EpochLog& e : history) {
    if (std::isfinite(e.train_loss)) train.points.push_back({e.epoch, e.train_loss}), top = std::max(top, e.train_loss);
    if (std::isfinite(e.valid_loss)) valid.points.push_back({e.epoch, e.valid_loss}), top = std::max(top, e.valid_loss);
    if (e.best) best = &e;
  }
  losses.y_max = top > 0 ? top * 1.05 : 1;
  std::tie(losses.y_grid_step, losses.y_label_step) = round_steps(0, losses.y_max);
  losses.series = {train, valid};
  if (best) {
    char label[64];
    std::snprintf(label, sizeof label, "best val_loss %.4g at epoch %d", best->valid_loss, best->epoch);
    losses.markers.push_back(PlotMarker{double(best->epoch), best->valid_loss, Rgb{214, 39, 40}, label});
  }
  write_line_plot((std::filesystem::path(folder) / "training_curves.png").string(), losses);

  LinePlot rate;
  rate.title = "Training: learning rate per epoch";
  rate.x_label = "epoch";
  rate.y_label = "log10 of the learning rate";
  rate.x_min = losses.x_min, rate.x_max = losses.x_max, rate.grid_step = losses.grid_step, rate.label_step = losses.label_step;
  PlotSeries lr{{}, Rgb{44, 160, 44}, ""};
  double lo = 0, hi = -100;
  for (const EpochLog& e : history)
    if (e.learning_rate > 0) {
      const double v = std::log10(double(e.learning_rate));
      lr.points.push_back({e.epoch, v});
      lo = std::min(lo, v), hi = std::max(hi, v);
    }
  rate.y_min = std::floor(lo) - 1, rate.y_max = std::ceil(hi) + 1 > rate.y_min ? std::ceil(hi) + 1 : rate.y_min + 1;
  rate.y_grid_step = rate.y_label_step = 1;
  rate.series = {lr};
  write_line_plot((std::filesystem::path(folder) / "learning_rate.png").string(), rate);
}

// Writes the whole log again each epoch, through a temporary file, so it is never half written.
void write_log(const std::string& folder, const std::vector<EpochLog>& history) {
  std::filesystem::create_directories(folder);
  std::ostringstream f;
  f << "epoch,loss,val_loss,val_xy,val_wh,val_object,val_no_object,val_class,learning_rate,seconds,best\n";
  for (const EpochLog& e : history)
    f << e.epoch << ',' << e.train_loss << ',' << e.valid_loss << ',' << e.valid_terms.xy << ','
      << e.valid_terms.wh << ',' << e.valid_terms.object << ',' << e.valid_terms.no_object << ','
      << e.valid_terms.cls << ',' << e.learning_rate << ',' << e.seconds << ',' << (e.best ? 1 : 0) << '\n';
  write_file_atomically((std::filesystem::path(folder) / "training.csv").string(), f.str());
  write_training_plots(folder, history);
}

// The epoch's line: "\r" first on a terminal, where it replaces the progress bar.
void print_epoch(const TrainOptions& opt, const EpochLog& log) {
  const bool tty = isatty(STDERR_FILENO);
  std::fprintf(stderr, "%sepoch %d/%d: loss %.4f, val_loss %.4f%s, lr %.1e, %s\n", tty ? "\r" : "", log.epoch,
               opt.epochs, log.train_loss, log.valid_loss, log.best ? " (best)" : "", log.learning_rate,
               clock_text(log.seconds).c_str());
}

}  // namespace

void request_stop() { g_stop = true; }

size_t steps_per_epoch(const TrainOptions& opt, size_t micrographs, int crops) {
  if (opt.batch_size <= 0 || opt.train_times <= 0) return 0;
  const size_t samples = micrographs * size_t(opt.train_times) * size_t(crops) * size_t(crops);
  return (samples + size_t(opt.batch_size) - 1) / size_t(opt.batch_size);
}

int training_crops(const TrainOptions& opt, size_t micrographs, Shape one) {
  int crops = 1;
  while (steps_per_epoch(opt, micrographs, crops) < size_t(opt.min_steps_per_epoch) && crops < 4 &&
         std::min(one.h, one.w) / (2 * crops) / 32 * 32 >= opt.min_crop_side)
    crops *= 2;
  return crops;
}

Plateau::Decision Plateau::update(double valid_loss) {
  Decision d;
  d.best = valid_loss < best_;
  if (d.best) best_ = valid_loss;
  if (valid_loss < reference_ - min_delta_) {
    reference_ = valid_loss;
    since_improvement_ = since_lr_drop_ = 0;
  } else {
    ++since_improvement_, ++since_lr_drop_;
  }
  if (since_lr_drop_ >= lr_patience_) {
    d.drop_lr = true;
    since_lr_drop_ = 0;
  }
  d.stop = since_improvement_ >= stop_patience_;
  return d;
}

void split_validation(std::vector<Example>& train, std::vector<Example>& valid, unsigned seed) {
  // A micrograph's patches (examples of one name) go together: validating on one patch of a
  // micrograph whose other patches, overlapping it, were trained on would flatter the loss.
  std::vector<std::vector<size_t>> micrographs;  // example indices, micrograph by micrograph
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < train.size(); ++i) {
    auto [it, fresh] = index.emplace(train[i].name, micrographs.size());
    if (fresh) micrographs.emplace_back();
    micrographs[it->second].push_back(i);
  }
  std::mt19937 rng(seed);
  std::vector<size_t> groups[2];  // micrographs with particles, without
  for (size_t m = 0; m < micrographs.size(); ++m) {
    bool empty = true;
    for (size_t i : micrographs[m]) empty = empty && train[i].boxes.empty();
    groups[empty].push_back(m);
  }
  std::vector<Example> keep;
  for (std::vector<size_t>& group : groups) {
    std::shuffle(group.begin(), group.end(), rng);
    const size_t n_valid = size_t(std::lround(0.2 * group.size()));
    for (size_t k = 0; k < group.size(); ++k)
      for (size_t i : micrographs[group[k]]) (k < n_valid ? valid : keep).push_back(std::move(train[i]));
  }
  train = std::move(keep);
}

namespace {

// Fine-tuning trains the last two convolutions (PhosaurusNet's and YOLO's conv_22 and conv_23);
// every other layer, the batchnorm between them included, keeps its values and statistics.
// Returns true, to be an initialiser.
bool freeze_for_fine_tuning(Graph& graph) {
  int convs = 0;
  for (size_t i = graph.size(); i-- > 0;) {
    Layer& layer = graph.layer(i);
    const bool is_conv = dynamic_cast<const Conv2D*>(&layer) != nullptr;
    layer.freeze(!(is_conv && convs < 2));
    convs += is_conv;
  }
  return true;
}

// Everything one training run holds between batches: the loss, the optimiser, the device buffers
// (allocated once), the augmentation's random numbers and the weights kept so far. train() below
// is the epoch loop; each step of an epoch is one member here.
class Run {
 public:
  Run(Graph& graph, Context& ctx, const TrainOptions& opt, const std::vector<Example>& train_set,
      const std::vector<Example>& valid_set, const Augment& augment)
      : graph_(graph), ctx_(ctx), opt_(opt), train_set_(train_set), valid_set_(valid_set), augment_(augment),
        one_(train_set[0].image.shape()),
        batch_shape_{opt.batch_size, one_.c, one_.h, one_.w},
        head_shape_(graph.shapes(batch_shape_).back()),
        grid_(Grid::of(one_, head_shape_)),
        loss_(loss_config()),
        adam_(graph.params(), opt.learning_rate, [&graph](const std::string& name) {
          return !graph.find(name.substr(0, name.find('/')))->frozen();
        }),
        host_batch_(batch_shape_), batch_(batch_shape_, ctx.device()), dhead_(head_shape_, ctx.device()),
        rng_(opt.seed) {}

  Adam& adam() { return adam_; }

  // What the saved weights say of themselves: the caller's metadata, the epoch, and as crYOLO's
  // models record them the anchors in grid cells (the first training micrograph's scale) and, when
  // fine-tuning, the number of layers trained.
  std::map<std::string, std::string> saved_metadata(int epoch) const {
    std::map<std::string, std::string> m = opt_.metadata;
    m["epoch"] = std::to_string(epoch);
    std::string anchors;
    for (const auto& [w, h] : loss_.config().anchors) {
      char text[64];
      std::snprintf(text, sizeof text, "%s%.9g %.9g", anchors.empty() ? "" : " ", w, h);
      anchors += text;
    }
    m["anchors"] = anchors;
    if (opt_.fine_tune) m.insert_or_assign("num_free_layers", std::to_string(2));
    return m;
  }

  // One pass over the training set, train_times over, in a shuffled order; the mean loss, or NAN
  // when a stop was asked for before the epoch ended.
  double train_epoch(int epoch, bool warmup, Clock::time_point start);

  // The loss over the whole validation set: no augmentation, batchnorm on its moving statistics.
  // The last batch is as large as what is left, so no micrograph counts twice.
  LossTerms validate(bool warmup);

  // A host copy of the weights training ends on: the best epoch's after the warm-up, or the last
  // epoch's while there is none (training that ends within the warm-up). Never mid-epoch weights.
  void keep() {
    kept_.clear();
    for (const NamedParam& p : graph_.params()) kept_.push_back(p.param->value.to(Device::cpu));
  }
  // Puts the kept weights back into the graph (none kept: stopped within the first epoch).
  bool restore_kept() {
    const std::vector<NamedParam> params = graph_.params();
    for (size_t i = 0; i < kept_.size(); ++i) params[i].param->value.copy_from(kept_[i]);
    return !kept_.empty();
  }

 private:
  // A training batch as the background thread assembles it: the (augmented) images packed into a
  // host tensor of batch_shape, and their boxes in grid cells.
  struct TrainingBatch {
    Tensor images;
    std::vector<std::vector<TruthBox>> truth;
  };

  LossConfig loss_config() const {
    LossConfig c;
    for (auto anchor : opt_.anchors)
      c.anchors.push_back(grid_.anchor_in_cells(anchor, train_set_[0].scale_x, train_set_[0].scale_y));
    c.classes = opt_.classes;
    c.scales = opt_.loss_scales;
    return c;
  }

  // Puts example e (a whole image or a crop) as image k of the host tensor `images`, and its boxes in
  // grid cells after `truth`.
  void pack(const Example& e, int k, Tensor& images, std::vector<std::vector<TruthBox>>& truth) const {
    const size_t count = e.image.shape().count();
    std::copy_n(e.image.data<float>(), count, images.data<float>() + k * count);
    std::vector<TruthBox>& cells = truth.emplace_back();
    for (const Box& b : e.boxes)
      cells.push_back({b.x / grid_.cell_w(), b.y / grid_.cell_h(), b.w / grid_.cell_w(), b.h / grid_.cell_h(), 0});
  }

  // Batch b of an epoch's order: every batch is full (the last one wraps around), so the plan and its
  // memory never change. Augmentation draws from `rng_` example by example, in the batch's order.
  // With crops, each example is first cut to a random crop_ window (the offset drawn before the
  // augmentation's numbers).
  TrainingBatch assemble(const std::vector<size_t>& order, size_t b) {
    TrainingBatch out{Tensor(crops_ > 1 ? crop_batch_.shape() : batch_shape_), {}};
    for (int k = 0; k < opt_.batch_size; ++k) {
      const Example& e = train_set_[order[(b * opt_.batch_size + k) % order.size()]];
      Example changed;
      if (crops_ > 1) {
        const int x0 = int(rng_() % uint32_t(one_.w - crop_.w + 1)), y0 = int(rng_() % uint32_t(one_.h - crop_.h + 1));
        changed = crop_example(e, x0, y0, crop_.w, crop_.h);
      } else if (augment_) {
        changed = e.copy();
      }
      if (augment_) augment_(changed, rng_);
      pack(crops_ > 1 || augment_ ? changed : e, k, out.images, out.truth);
    }
    return out;
  }

  Graph& graph_;
  Context& ctx_;
  const TrainOptions& opt_;
  const std::vector<Example>& train_set_;
  const std::vector<Example>& valid_set_;
  const Augment& augment_;
  const Shape one_, batch_shape_, head_shape_;
  const Grid grid_;
  YoloLoss loss_;
  // Frozen once the shapes and the loss are known to fit, and before Adam picks what it trains.
  const bool fine_tuning_ = opt_.fine_tune && freeze_for_fine_tuning(graph_);
  Adam adam_;
  // Every batch goes through batch_ on the device; validation batches are packed into host_batch_
  // first, training batches by the background thread.
  Tensor host_batch_, batch_, dhead_;
  std::mt19937 rng_;
  std::vector<Tensor> kept_;
  // Training crops (min_steps_per_epoch): per side, the crop's shape, and the device batch and
  // head gradient they go through (empty without crops).
  const int crops_ = training_crops(opt_, train_set_.size(), one_);
  const Shape crop_{1, one_.c, crops_ > 1 ? one_.h / crops_ / 32 * 32 : one_.h,
                    crops_ > 1 ? one_.w / crops_ / 32 * 32 : one_.w};
  Tensor crop_batch_ = crops_ > 1 ? Tensor({opt_.batch_size, crop_.c, crop_.h, crop_.w}, ctx_.device()) : Tensor();
  Tensor crop_dhead_ = crops_ > 1 ? Tensor(graph_.shapes(crop_batch_.shape()).back(), ctx_.device()) : Tensor();
};

double Run::train_epoch(int epoch, bool warmup, Clock::time_point start) {
  std::vector<size_t> order;
  for (int t = 0; t < opt_.train_times * crops_ * crops_; ++t)
    for (size_t i = 0; i < train_set_.size(); ++i) order.push_back(i);
  std::shuffle(order.begin(), order.end(), rng_);
  const size_t batches = (order.size() + opt_.batch_size - 1) / opt_.batch_size;
  // This epoch's batches are assembled (copied, augmented, packed) on a thread of their own, up to
  // two ahead, while the device trains. That thread is the only user of `rng_` until the epoch's
  // batches are done (it is joined before the next shuffle), and draws in batch order: a seed
  // gives the same batches as assembling them in line. Whatever augment does (the tests ask
  // for a stop there) also happens within the epoch the batch belongs to.
  Background<TrainingBatch> prepared(batches, 2, [&](size_t b) { return assemble(order, b); });
  const bool tty = opt_.progress && isatty(STDERR_FILENO);
  double loss = 0;
  size_t done = 0;
  for (size_t b = 0; b < batches && !g_stop; ++b) {
    const TrainingBatch ready = prepared.next().value();  // rethrows what augment threw
    Tensor& input = crops_ > 1 ? crop_batch_ : batch_;
    Tensor& dhead = crops_ > 1 ? crop_dhead_ : dhead_;
    input.copy_from(ready.images);
    const Tensor& head = graph_.forward(ctx_, input, Mode::train);
    const LossTerms terms = loss_.compute(ctx_, head, ready.truth, warmup, dhead);
    if (!std::isfinite(terms.total))
      throw Error("training: the loss is not finite in epoch " + std::to_string(epoch) +
                  " (learning rate too high, or images not normalised?)");
    graph_.backward(ctx_, dhead);
    adam_.step(ctx_);
    loss += terms.total;
    ++done;
    if (tty) {
      const double elapsed = seconds_since(start);
      const int width = 24, filled = int(width * double(b + 1) / batches);
      std::fprintf(stderr, "\repoch %d/%d [%s%s] %zu/%zu loss %.4f  %s left   ", epoch, opt_.epochs,
                   std::string(filled, '=').c_str(), std::string(width - filled, ' ').c_str(), b + 1, batches,
                   loss / done, clock_text(elapsed / (b + 1) * (batches - b - 1)).c_str());
    }
  }
  if (g_stop) {
    if (tty) std::fprintf(stderr, "\n");
    return NAN;
  }
  return loss / done;
}

LossTerms Run::validate(bool warmup) {
  LossTerms sum;
  std::vector<std::vector<TruthBox>> truth;
  for (size_t first = 0; first < valid_set_.size(); first += opt_.batch_size) {
    const int n = int(std::min(valid_set_.size() - first, size_t(opt_.batch_size)));
    truth.clear();
    for (int k = 0; k < n; ++k) pack(valid_set_[first + k], k, host_batch_, truth);
    Tensor input = batch_.images(0, n);
    input.copy_from(host_batch_.images(0, n));
    const Tensor& head = graph_.forward(ctx_, input, Mode::infer);
    Tensor dvalid = dhead_.images(0, n);  // computed alongside the loss, unused
    const LossTerms t = loss_.compute(ctx_, head, truth, warmup, dvalid);
    const double w = double(n) / valid_set_.size();
    sum.total += w * t.total;
    sum.xy += w * t.xy;
    sum.wh += w * t.wh;
    sum.object += w * t.object;
    sum.no_object += w * t.no_object;
    sum.cls += w * t.cls;
  }
  return sum;
}

void check_training_sets(const TrainOptions& opt, const std::vector<Example>& train_set,
                         const std::vector<Example>& valid_set) {
  if (train_set.empty()) throw Error("training: no training micrographs");
  if (valid_set.empty()) throw Error("training: no validation micrographs");
  if (opt.batch_size <= 0 || opt.train_times <= 0 || opt.epochs <= 0 || !(opt.learning_rate > 0) ||
      opt.lr_patience <= 0 || opt.stop_patience <= 0)
    throw Error("training: batch_size, train_times, nb_epoch, learning_rate and the patiences must be positive");
  const Shape one = train_set[0].image.shape();
  for (const auto* set : {&train_set, &valid_set})
    for (const Example& e : *set)
      if (e.image.shape() != one || e.image.device() != Device::cpu || e.image.dtype() != DType::f32)
        throw ShapeError("training: micrograph " + e.name + " is " + e.image.str() + ", expected " + one.str() +
                         " f32 on the host like " + train_set[0].name);
}

}  // namespace

TrainResult train(Graph& graph, Context& ctx, const TrainOptions& opt, const std::vector<Example>& train_set,
                  const std::vector<Example>& valid_set, const Augment& augment) {
  // A stop asked for before or during this run ends it; the next run starts afresh.
  struct ClearStop {
    ~ClearStop() { g_stop = false; }
  } clear_stop;
  check_training_sets(opt, train_set, valid_set);
  Run run(graph, ctx, opt, train_set, valid_set, augment);
  TrainResult result;
  result.best_valid_loss = INFINITY;
  Plateau plateau(opt.lr_patience, opt.stop_patience, opt.min_delta);
  std::optional<TensorBoardLog> tensorboard;
  if (!opt.log_path.empty()) tensorboard.emplace(opt.log_path);
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    const Clock::time_point start = Clock::now();
    const bool warmup = !opt.fine_tune && epoch <= opt.warmup_epochs;
    EpochLog log;
    log.epoch = epoch;
    log.train_loss = run.train_epoch(epoch, warmup, start);
    if (std::isnan(log.train_loss)) {
      result.interrupted = true;
      break;
    }
    log.valid_terms = run.validate(warmup);
    log.valid_loss = log.valid_terms.total;
    log.learning_rate = run.adam().learning_rate();
    log.seconds = seconds_since(start);

    // Warm-up epochs train towards other targets, so their losses are not compared with the later
    // ones, and no plateau is judged before the loss means what it will mean.
    Plateau::Decision decision;
    if (!warmup) decision = plateau.update(log.valid_loss);
    if (decision.best) {
      log.best = true;
      result.best_valid_loss = log.valid_loss;
      result.best_epoch = epoch;
      if (!opt.weights_path.empty()) save_weights(opt.weights_path, graph.params(), run.saved_metadata(epoch));
    }
    if (decision.best || result.best_epoch == 0) run.keep();
    result.history.push_back(log);
    if (!opt.log_path.empty()) write_log(opt.log_path, result.history);
    if (tensorboard)  // the CSV's columns, under the same names
      tensorboard->add(epoch, {{"loss", float(log.train_loss)},
                               {"val_loss", float(log.valid_loss)},
                               {"val_xy", float(log.valid_terms.xy)},
                               {"val_wh", float(log.valid_terms.wh)},
                               {"val_object", float(log.valid_terms.object)},
                               {"val_no_object", float(log.valid_terms.no_object)},
                               {"val_class", float(log.valid_terms.cls)},
                               {"learning_rate", log.learning_rate}});
    if (opt.progress) {
      print_epoch(opt, log);
      const std::string stalled = stalled_validation(result.history, opt.fine_tune ? 0 : opt.warmup_epochs);
      if (!stalled.empty()) std::fprintf(stderr, "%s\n", stalled.c_str());
    }
    if (decision.drop_lr) run.adam().set_learning_rate(run.adam().learning_rate() * 0.1f);
    if (decision.stop) {
      result.stopped_early = true;
      break;
    }
  }
  if (run.restore_kept() && result.best_epoch == 0) {  // ended within the warm-up: the last epoch stands for the best
    result.best_epoch = result.history.back().epoch;
    result.best_valid_loss = result.history.back().valid_loss;
    if (!opt.weights_path.empty())
      save_weights(opt.weights_path, graph.params(), run.saved_metadata(result.best_epoch));
  }
  return result;
}

}  // namespace cupick
