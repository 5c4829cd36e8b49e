// The photometric visual servo of aevs_ros's DVS written with ViSP, timed per iteration.
//
// Renders a textured plane with vpImageSimulator (bilinear), builds vpFeatureLuminance and its
// interaction matrix, and runs the same Levenberg-Marquardt law as aevs_ros's Servo: the mean of
// the current and the goal interaction matrices, mu switched after a number of steps, gain and
// velocity limits, the same convergence test. The law uses ViSP's calls that allocate nothing
// per iteration (add2WeightedMatrices, AtA into a kept matrix, e^T L as a row vector). Every number it needs comes on the command line
// (aevs_ros.bench.visp writes them); it prints one JSON object on stdout.
#include <visp3/core/vpCameraParameters.h>
#include <visp3/core/vpExponentialMap.h>
#include <visp3/core/vpHomogeneousMatrix.h>
#include <visp3/core/vpImage.h>
#include <visp3/core/vpMatrix.h>
#include <visp3/core/vpRowVector.h>
#include <visp3/io/vpImageIo.h>
#include <visp3/robot/vpImageSimulator.h>
#include <visp3/visual_features/vpFeatureLuminance.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

//! A wall-clock and a thread CPU-time reading: the CPU time leaves out the time the thread
//! waited for a core, which on a busy machine the wall clock does not.
struct Stamp {
  Clock::time_point wall;
  double cpu_ms;
};

Stamp now()
{
  timespec cpu;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  return {Clock::now(), cpu.tv_sec * 1e3 + cpu.tv_nsec * 1e-6};
}

struct Timings {
  std::vector<double> wall, cpu;
  void add(const Stamp &from, const Stamp &to)
  {
    wall.push_back(std::chrono::duration<double, std::milli>(to.wall - from.wall).count());
    cpu.push_back(to.cpu_ms - from.cpu_ms);
  }
};

//! vpFeatureLuminance with the border of aevs_ros's L_I (ViSP 3.5 fixes 10 pixels, no setter).
class Luminance : public vpFeatureLuminance
{
public:
  explicit Luminance(unsigned int border) { bord = border; }
};

double median(std::vector<double> values)
{
  if (values.empty())
    return 0.0;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double mean(const std::vector<double> &values)
{
  double sum = 0.0;
  for (double value : values)
    sum += value;
  return values.empty() ? 0.0 : sum / values.size();
}

//! 16 comma-separated numbers, row major, as a homogeneous matrix.
vpHomogeneousMatrix parse_pose(const std::string &text)
{
  std::vector<double> numbers;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    numbers.push_back(std::stod(text.substr(start, end - start)));
    start = end + 1;
  }
  if (numbers.size() != 16)
    throw std::runtime_error("a pose needs 16 numbers, got " + std::to_string(numbers.size()));
  vpHomogeneousMatrix pose;
  for (unsigned int i = 0; i < 4; i++)
    for (unsigned int j = 0; j < 4; j++)
      pose[i][j] = numbers[4 * i + j];
  return pose;
}

std::map<std::string, std::string> parse_arguments(int argc, char **argv)
{
  std::map<std::string, std::string> options;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0)
      throw std::runtime_error(std::string("expected --name value, got ") + argv[i]);
    options[argv[i] + 2] = argv[i + 1];
  }
  return options;
}

std::string required(const std::map<std::string, std::string> &options, const std::string &name)
{
  auto found = options.find(name);
  if (found == options.end())
    throw std::runtime_error("missing --" + name);
  return found->second;
}

void print_pose(const char *name, const vpHomogeneousMatrix &pose)
{
  std::printf("  \"%s\": [", name);
  for (unsigned int i = 0; i < 4; i++)
    for (unsigned int j = 0; j < 4; j++)
      std::printf("%.17g%s", pose[i][j], (i == 3 && j == 3) ? "" : ", ");
  std::printf("],\n");
}

void print_timing(const char *name, const Timings &timings, bool last = false)
{
  std::printf("  \"%s\": {\"median\": %.6f, \"mean\": %.6f, \"cpu_median\": %.6f, \"cpu_mean\": %.6f}%s\n",
              name, median(timings.wall), mean(timings.wall), median(timings.cpu), mean(timings.cpu), last ? "" : ",");
}

} // namespace

int main(int argc, char **argv)
{
  try {
    auto options = parse_arguments(argc, argv);
    const unsigned int width = std::stoul(required(options, "width"));
    const unsigned int height = std::stoul(required(options, "height"));
    const unsigned int border = std::stoul(required(options, "border"));
    vpCameraParameters camera(std::stod(required(options, "fx")), std::stod(required(options, "fy")),
                              std::stod(required(options, "cx")), std::stod(required(options, "cy")));
    const double scene_width = std::stod(required(options, "scene-width"));
    const double depth = std::stod(required(options, "depth"));
    const double gain = std::stod(required(options, "gain"));
    const double mu_first = std::stod(required(options, "mu"));
    const double mu_final = std::stod(required(options, "mu-final"));
    const unsigned int mu_switch = std::stoul(required(options, "mu-switch"));
    const double dt = std::stod(required(options, "dt"));
    const unsigned int max_iterations = std::stoul(required(options, "max-iterations"));
    const double max_linear = std::stod(required(options, "max-linear"));
    const double max_angular = std::stod(required(options, "max-angular"));
    const double converged_translation = std::stod(required(options, "convergence-translation"));
    const double converged_rotation = std::stod(required(options, "convergence-rotation"));
    // camera_T_world (ViSP's cMo, the scene plane being the object)
    const vpHomogeneousMatrix goal_cMo = parse_pose(required(options, "goal"));
    vpHomogeneousMatrix cMo = parse_pose(required(options, "start"));

    vpImage<unsigned char> texture;
    vpImageIo::read(texture, required(options, "scene"));
    const double scene_height = scene_width * texture.getHeight() / texture.getWidth();
    // corners: top left, top right, bottom right, bottom left (scene rows run along -Y)
    vpColVector corners[4];
    const double xs[4] = {-1, 1, 1, -1}, ys[4] = {1, 1, -1, -1};
    for (int k = 0; k < 4; k++) {
      corners[k].resize(3);
      corners[k][0] = xs[k] * scene_width / 2;
      corners[k][1] = ys[k] * scene_height / 2;
      corners[k][2] = 0.0;
    }
    vpImageSimulator simulator;
    simulator.setInterpolationType(vpImageSimulator::BILINEAR_INTERPOLATION);
    simulator.setCleanPreviousImage(true, vpColor::black);
    simulator.init(texture, corners);

    vpImage<unsigned char> image(height, width, 0);
    simulator.setCameraPosition(goal_cMo);
    simulator.getImage(image, camera);
    Luminance goal(border);
    goal.init(height, width, depth);
    goal.setCameraParameters(camera);
    goal.buildFrom(image);
    vpMatrix goal_L;
    goal.interaction(goal_L);

    Luminance current(border);
    current.init(height, width, depth);
    current.setCameraParameters(camera);

    Timings render_ms, features_ms, control_ms, iteration_ms;
    vpMatrix L, current_L, H;
    vpColVector error, gradient(6), velocity(6);
    bool converged = false;
    unsigned int iteration = 0;
    for (; iteration < max_iterations; iteration++) {
      const Stamp started = now();
      simulator.setCameraPosition(cMo);
      simulator.getImage(image, camera);
      const Stamp rendered = now();
      current.buildFrom(image);
      current.interaction(current_L);
      const Stamp featured = now();
      current.error(goal, error);
      vpMatrix::add2WeightedMatrices(current_L, 0.5, goal_L, 0.5, L);
      L.AtA(H);
      const double mu = (mu_switch > 0 && iteration >= mu_switch) ? mu_final : mu_first;
      for (unsigned int i = 0; i < 6; i++)
        H[i][i] *= 1.0 + mu;
      gradient = (error.t() * L).t(); // L^T e without a transposed copy of L
      velocity = -gain * (H.inverseByLU() * gradient);
      double step_t = 0, step_r = 0;
      for (unsigned int i = 0; i < 3; i++) {
        step_t += velocity[i] * velocity[i];
        step_r += velocity[i + 3] * velocity[i + 3];
      }
      step_t = std::sqrt(step_t);
      step_r = std::sqrt(step_r);
      converged = step_t / gain < converged_translation && step_r / gain < converged_rotation;
      if (!converged) {
        const double scale = std::min(1.0, std::min(step_t > 0 ? max_linear / step_t : 1.0,
                                                    step_r > 0 ? max_angular / step_r : 1.0));
        cMo = vpExponentialMap::direct(scale * velocity, dt).inverse() * cMo;
      }
      const Stamp controlled = now();
      render_ms.add(started, rendered);
      features_ms.add(rendered, featured);
      control_ms.add(featured, controlled);
      iteration_ms.add(started, controlled);
      if (converged) {
        iteration++;
        break;
      }
    }
    std::printf("{\n  \"visp_version\": \"%d.%d.%d\",\n", VISP_VERSION_MAJOR, VISP_VERSION_MINOR, VISP_VERSION_PATCH);
    std::printf("  \"image_size\": [%u, %u],\n  \"feature_dim\": %u,\n", width, height, current.dimension_s());
    std::printf("  \"iterations\": %u,\n  \"converged\": %s,\n", iteration, converged ? "true" : "false");
    print_pose("final_cMo", cMo);
    print_timing("render_ms", render_ms);
    print_timing("features_ms", features_ms);
    print_timing("control_ms", control_ms);
    print_timing("iteration_ms", iteration_ms, true);
    std::printf("}\n");
    return 0;
  } catch (const std::exception &error) {
    std::fprintf(stderr, "visp_peer: %s\n", error.what());
    return 2;
  }
}
