#include "train/trainer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <map>
#include <numeric>

#include "engine/background.h"
#include "io/files.h"
#include "io/weights.h"
#include "train/optimizer.h"

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

// The examples' boxes in grid cells, for a grid of gw x gh over images of w x h pixels.
std::vector<TruthBox> to_grid(const std::vector<Box>& boxes, float cell_w, float cell_h) {
  std::vector<TruthBox> out;
  for (const Box& b : boxes) out.push_back({b.x / cell_w, b.y / cell_h, b.w / cell_w, b.h / cell_h, 0});
  return out;
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
}

}  // namespace

void request_stop() { g_stop = true; }

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

TrainResult train(Graph& graph, Context& ctx, const TrainOptions& opt, const std::vector<Example>& train_set,
                  const std::vector<Example>& valid_set, const Augment& augment) {
  // A stop asked for before or during this run ends it; the next run starts afresh.
  struct ClearStop {
    ~ClearStop() { g_stop = false; }
  } clear_stop;
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

  const Shape batch_shape{opt.batch_size, one.c, one.h, one.w};
  const Shape head_shape = graph.shapes(batch_shape).back();
  const float cell_w = float(one.w) / head_shape.w, cell_h = float(one.h) / head_shape.h;
  LossConfig loss_config;
  for (auto [w, h] : opt.anchors) loss_config.anchors.push_back({w / cell_w, h / cell_h});
  loss_config.classes = opt.classes;
  loss_config.object_scale = opt.object_scale;
  loss_config.no_object_scale = opt.no_object_scale;
  loss_config.coord_scale = opt.coord_scale;
  loss_config.class_scale = opt.class_scale;
  YoloLoss loss(loss_config);

  // Fine-tuning trains the last two convolutions (PhosaurusNet's and YOLO's conv_22 and conv_23);
  // every other layer, the batchnorm between them included, keeps its values and statistics.
  if (opt.fine_tune) {
    int convs = 0;
    for (size_t i = graph.size(); i-- > 0;) {
      Layer& layer = graph.layer(i);
      const bool is_conv = std::string(layer.type()) == "conv";
      layer.freeze(!(is_conv && convs < 2));
      convs += is_conv;
    }
  }
  Adam adam(graph.params(), opt.learning_rate, [&graph](const std::string& name) {
    return !graph.find(name.substr(0, name.find('/')))->frozen();
  });

  // Every batch goes through `batch` on the device, allocated once; validation batches are packed
  // into `host_batch` first, training batches by the background thread (below).
  Tensor host_batch(batch_shape), batch(batch_shape, ctx.device()), dhead(head_shape, ctx.device());
  // Puts example e as image k of the host tensor `images`, and its boxes in grid cells after `truth`.
  auto pack = [&](const Example& e, int k, Tensor& images, std::vector<std::vector<TruthBox>>& truth) {
    std::copy_n(e.image.data<float>(), one.count(), images.data<float>() + k * one.count());
    truth.push_back(to_grid(e.boxes, cell_w, cell_h));
  };
  // Fills the first examples.size() images of the batch; returns a view of just those.
  auto fill = [&](const std::vector<const Example*>& examples, std::vector<std::vector<TruthBox>>& truth) {
    const int n = int(examples.size());
    truth.clear();
    for (int k = 0; k < n; ++k) pack(*examples[k], k, host_batch, truth);
    Tensor view = batch.images(0, n);
    view.copy_from(host_batch.images(0, n));
    return view;
  };

  // A training batch as the background thread assembles it: the (augmented) images packed into a
  // host tensor of batch_shape, and their boxes in grid cells.
  struct TrainingBatch {
    Tensor images;
    std::vector<std::vector<TruthBox>> truth;
  };
  // Batch b of an epoch's order: every batch is full (the last one wraps around), so the plan and its
  // memory never change. Augmentation draws from `rng` example by example, in the batch's order.
  std::mt19937 rng(opt.seed);
  auto assemble = [&](const std::vector<size_t>& order, size_t b) {
    TrainingBatch out{Tensor(batch_shape), {}};
    for (int k = 0; k < opt.batch_size; ++k) {
      const Example& e = train_set[order[(b * opt.batch_size + k) % order.size()]];
      Example augmented;
      if (augment) {
        augmented = e.copy();
        augment(augmented, rng);
      }
      pack(augment ? augmented : e, k, out.images, out.truth);
    }
    return out;
  };

  const bool tty = opt.progress && isatty(STDERR_FILENO);
  TrainResult result;
  result.best_valid_loss = INFINITY;
  Plateau plateau(opt.lr_patience, opt.stop_patience, opt.min_delta);
  // The weights training ends on, as a host copy: the best epoch's after the warm-up, or the last
  // epoch's while there is none (training that ends within the warm-up). Never mid-epoch weights.
  std::vector<Tensor> kept;
  auto keep = [&] {
    kept.clear();
    for (const NamedParam& p : graph.params()) kept.push_back(p.param->value.to(Device::cpu));
  };
  std::vector<std::vector<TruthBox>> truth;
  std::vector<const Example*> members;

  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    const Clock::time_point start = Clock::now();
    const bool warmup = !opt.fine_tune && epoch <= opt.warmup_epochs;
    std::vector<size_t> order;
    for (int t = 0; t < opt.train_times; ++t)
      for (size_t i = 0; i < train_set.size(); ++i) order.push_back(i);
    std::shuffle(order.begin(), order.end(), rng);
    const size_t batches = (order.size() + opt.batch_size - 1) / opt.batch_size;
    // This epoch's batches are assembled (copied, augmented, packed) on a thread of their own, up to
    // two ahead, while the device trains. That thread is the only user of `rng` until the epoch's
    // batches are done (it is joined before the next shuffle), and draws in batch order: a seed
    // gives the same batches as assembling them in line. Whatever augment does (the tests ask
    // for a stop there) also happens within the epoch the batch belongs to.
    size_t assembled = 0;
    Background<TrainingBatch> prepared(2, [&]() -> std::optional<TrainingBatch> {
      if (assembled == batches) return std::nullopt;
      return assemble(order, assembled++);
    });
    double train_loss = 0;
    size_t done = 0;
    for (size_t b = 0; b < batches && !g_stop; ++b) {
      const TrainingBatch ready = prepared.next().value();  // rethrows what augment threw
      batch.copy_from(ready.images);
      const Tensor& head = graph.forward(ctx, batch, Mode::train);
      const LossTerms terms = loss.compute(ctx, head, ready.truth, warmup, dhead);
      if (!std::isfinite(terms.total))
        throw Error("training: the loss is not finite in epoch " + std::to_string(epoch) +
                    " (learning rate too high, or images not normalised?)");
      graph.backward(ctx, dhead);
      adam.step(ctx);
      train_loss += terms.total;
      ++done;
      if (tty) {
        const double elapsed = seconds_since(start);
        const int width = 24, filled = int(width * double(b + 1) / batches);
        std::fprintf(stderr, "\repoch %d/%d [%s%s] %zu/%zu loss %.4f  %s left   ", epoch, opt.epochs,
                     std::string(filled, '=').c_str(), std::string(width - filled, ' ').c_str(), b + 1, batches,
                     train_loss / done, clock_text(elapsed / (b + 1) * (batches - b - 1)).c_str());
      }
    }
    if (g_stop) {
      result.interrupted = true;
      if (tty) std::fprintf(stderr, "\n");
      break;
    }

    // Validation: whole set, no augmentation, batchnorm on its moving statistics. The last batch
    // is as large as what is left, so no micrograph counts twice.
    EpochLog log;
    for (size_t first = 0; first < valid_set.size(); first += opt.batch_size) {
      const size_t n = std::min(valid_set.size() - first, size_t(opt.batch_size));
      members.clear();
      for (size_t k = 0; k < n; ++k) members.push_back(&valid_set[first + k]);
      const Tensor input = fill(members, truth);
      const Tensor& head = graph.forward(ctx, input, Mode::infer);
      Tensor dvalid = dhead.images(0, int(n));  // computed alongside the loss, unused
      const LossTerms t = loss.compute(ctx, head, truth, warmup, dvalid);
      const double w = double(n) / valid_set.size();
      log.valid_terms.total += w * t.total;
      log.valid_terms.xy += w * t.xy;
      log.valid_terms.wh += w * t.wh;
      log.valid_terms.object += w * t.object;
      log.valid_terms.no_object += w * t.no_object;
      log.valid_terms.cls += w * t.cls;
    }
    log.epoch = epoch;
    log.train_loss = train_loss / done;
    log.valid_loss = log.valid_terms.total;
    log.learning_rate = adam.learning_rate();
    log.seconds = seconds_since(start);

    // Warm-up epochs train towards other targets, so their losses are not compared with the later
    // ones, and no plateau is judged before the loss means what it will mean.
    Plateau::Decision decision;
    if (!warmup) decision = plateau.update(log.valid_loss);
    if (decision.best) {
      log.best = true;
      result.best_valid_loss = log.valid_loss;
      result.best_epoch = epoch;
      if (!opt.weights_path.empty()) save_weights(opt.weights_path, graph.params(), {{"epoch", std::to_string(epoch)}});
    }
    if (decision.best || result.best_epoch == 0) keep();
    result.history.push_back(log);
    if (!opt.log_path.empty()) write_log(opt.log_path, result.history);
    if (opt.progress)
      std::fprintf(stderr, "%sepoch %d/%d: loss %.4f, val_loss %.4f%s, lr %.1e, %s\n", tty ? "\r" : "", epoch,
                   opt.epochs, log.train_loss, log.valid_loss, log.best ? " (best)" : "", log.learning_rate,
                   clock_text(log.seconds).c_str());

    if (decision.drop_lr) adam.set_learning_rate(adam.learning_rate() * 0.1f);
    if (decision.stop) {
      result.stopped_early = true;
      break;
    }
  }
  // End on the kept weights (none when stopped within the first epoch).
  if (!kept.empty()) {
    const std::vector<NamedParam> params = graph.params();
    for (size_t i = 0; i < params.size(); ++i) params[i].param->value.copy_from(kept[i]);
    if (result.best_epoch == 0) {  // ended within the warm-up: the last epoch stands for the best
      result.best_epoch = result.history.back().epoch;
      result.best_valid_loss = result.history.back().valid_loss;
      if (!opt.weights_path.empty())
        save_weights(opt.weights_path, params, {{"epoch", std::to_string(result.best_epoch)}});
    }
  }
  return result;
}

}  // namespace cupick
