// kiln_onnx_conformance: runs ONNX's backend test cases (node tests and the
// wheel's small model tests, cached by scripts/make_onnx_node_tests.py)
// through Kiln and counts each case once as pass / fail / unsupported / crash.
//
//   kiln_onnx_conformance --cases=build/onnx-node-tests [--expected=tests/onnx/expected_passing.txt]
//       [--write-matrix=docs/onnx-support.md] [--write-expected=FILE] [--filter=REGEX]
//       [--jobs=N] [--timeout=SECONDS] [--verbose] [--no-fork]
//
// Each case runs in a child process (fork), so a segfault, an abort or a hang
// (killed after --timeout) is counted as a crash and the run goes on. Exit
// status 1 when a case crashed or a case listed in --expected no longer passes
// (the ratchet: the list only grows, by --write-expected); 2 on a usage error.
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "cases.h"
#include "matrix.h"
#include "model_families.h"
#include "run_case.h"

namespace fs = std::filesystem;
using namespace kiln_conformance;

namespace {

struct Options {
  std::string cases, expected, writeMatrix, writeExpected, filter, modelsResults;
  int jobs = 0;
  double timeout = 20;
  bool verbose = false, fork = true;
};

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "kiln_onnx_conformance: " << why << "\n"
            << "usage: kiln_onnx_conformance --cases=DIR [--expected=FILE] [--write-matrix=FILE]\n"
               "         [--write-expected=FILE] [--filter=REGEX] [--jobs=N] [--timeout=SECONDS] [--verbose] "
               "[--no-fork]\n         [--models-results=tests/models/model_families.json]\n";
  std::exit(2);
}

Options parseArgs(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      std::string f = std::string(flag) + "=";
      return a.rfind(f, 0) == 0 ? argv[i] + f.size() : nullptr;
    };
    if (const char* v = value("--cases")) o.cases = v;
    else if (const char* v = value("--expected")) o.expected = v;
    else if (const char* v = value("--write-matrix")) o.writeMatrix = v;
    else if (const char* v = value("--write-expected")) o.writeExpected = v;
    else if (const char* v = value("--filter")) o.filter = v;
    else if (const char* v = value("--models-results")) o.modelsResults = v;
    else if (const char* v = value("--jobs")) o.jobs = std::atoi(v);
    else if (const char* v = value("--timeout")) o.timeout = std::atof(v);
    else if (a == "--verbose" || a == "-v") o.verbose = true;
    else if (a == "--no-fork") o.fork = false;
    else usage("unknown argument '" + a + "'");
  }
  if (o.cases.empty()) usage("--cases is required");
  if (o.timeout <= 0) usage("--timeout must be positive");
  if (o.jobs <= 0) o.jobs = std::max(1u, std::thread::hardware_concurrency());
  return o;
}

std::string readText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) {
    std::cerr << "kiln_onnx_conformance: cannot write " << path << "\n";
    std::exit(2);
  }
}

// ---- running cases in child processes ---------------------------------------

// A child's result on its pipe: outcome digit, constInputs digit, reason.
std::string encode(const CaseResult& r) {
  return std::string(1, static_cast<char>('0' + static_cast<int>(r.outcome))) + (r.constInputs ? '1' : '0') + r.reason;
}

CaseResult decode(const std::string& s) {
  if (s.size() < 2 || s[0] < '0' || s[0] > '3') return {Outcome::kCrash, "the case ended without a result"};
  return {static_cast<Outcome>(s[0] - '0'), s.substr(2), s[1] == '1'};
}

//! Self-test hook: KILN_CONFORMANCE_FAULT=<segv|abort|hang>:<regex>[,...]
//! makes the cases whose id matches misbehave in their child, so ctest can
//! check that crashes and hangs are isolated and counted (check_isolation.cmake).
void injectFault(const CaseInfo& c) {
  const char* spec = std::getenv("KILN_CONFORMANCE_FAULT");
  if (!spec) return;
  std::stringstream all(spec);
  for (std::string s; std::getline(all, s, ',');) {
    auto colon = s.find(':');
    if (colon == std::string::npos || !std::regex_search(c.id, std::regex(s.substr(colon + 1)))) continue;
    std::string kind = s.substr(0, colon);
    if (kind == "segv") std::raise(SIGSEGV);
    if (kind == "abort") std::abort();
    if (kind == "hang")
      for (;;) pause();
  }
}

struct Child {
  pid_t pid;
  int fd;
  std::size_t index;
  std::string out;
  std::chrono::steady_clock::time_point start;
};

Child startChild(const CaseInfo& c, std::size_t index) {
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("pipe");
    std::exit(2);
  }
  std::cout.flush();
  std::cerr.flush();
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(2);
  }
  if (pid == 0) {
    close(fds[0]);
    // A case that wants more memory than this is a bug (the tests are tiny);
    // it fails with bad_alloc instead of taking the machine down.
#if !defined(__SANITIZE_ADDRESS__)  // ASan reserves terabytes of address space
    rlimit lim{4ull << 30, 4ull << 30};
    setrlimit(RLIMIT_AS, &lim);
#endif
    rlimit noCore{0, 0};  // a crashing case leaves no core file behind
    setrlimit(RLIMIT_CORE, &noCore);
    injectFault(c);
    std::string msg = encode(runCase(c));
    const char* p = msg.data();
    std::size_t left = msg.size();
    while (left) {
      ssize_t n = write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    _exit(0);  // no static destructors, no flushing of the parent's buffers
  }
  close(fds[1]);
  return {pid, fds[0], index, "", std::chrono::steady_clock::now()};
}

CaseResult reap(Child& ch, bool timedOut, double timeout) {
  int status = 0;
  if (timedOut) kill(ch.pid, SIGKILL);
  while (waitpid(ch.pid, &status, 0) < 0 && errno == EINTR) {
  }
  close(ch.fd);
  if (timedOut) {
    std::ostringstream os;
    os << "timed out after " << timeout << " s";
    return {Outcome::kCrash, os.str()};
  }
  if (WIFSIGNALED(status))
    return {Outcome::kCrash, std::string("killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                 strsignal(WTERMSIG(status)) + ")"};
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return {Outcome::kCrash, "exited with status " + std::to_string(WEXITSTATUS(status))};
  return decode(ch.out);
}

std::vector<CaseResult> runAll(const std::vector<CaseInfo>& cases, const Options& o) {
  std::vector<CaseResult> results(cases.size());
  auto report = [&](std::size_t i) {
    if (o.verbose || results[i].outcome == Outcome::kCrash)
      std::cout << outcomeName(results[i].outcome) << (results[i].constInputs ? "*" : "") << "  " << cases[i].id
                << (results[i].reason.empty() ? "" : "  " + results[i].reason) << "\n";
  };
  if (!o.fork) {
    for (std::size_t i = 0; i < cases.size(); ++i) {
      results[i] = runCase(cases[i]);
      report(i);
    }
    return results;
  }
  std::vector<Child> running;
  std::size_t next = 0;
  while (next < cases.size() || !running.empty()) {
    while (running.size() < static_cast<std::size_t>(o.jobs) && next < cases.size()) {
      running.push_back(startChild(cases[next], next));
      ++next;
    }
    std::vector<pollfd> pfds;
    for (const Child& ch : running) pfds.push_back({ch.fd, POLLIN, 0});
    poll(pfds.data(), pfds.size(), 100);
    auto now = std::chrono::steady_clock::now();
    for (std::size_t k = running.size(); k-- > 0;) {
      Child& ch = running[k];
      bool done = false;
      if (pfds[k].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[4096];
        ssize_t n = read(ch.fd, buf, sizeof buf);
        if (n > 0) ch.out.append(buf, static_cast<std::size_t>(n));
        else done = n == 0 || errno != EINTR;
      }
      bool late = !done && std::chrono::duration<double>(now - ch.start).count() > o.timeout;
      if (done || late) {
        results[ch.index] = reap(ch, late, o.timeout);
        report(ch.index);
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(k));
      }
    }
  }
  return results;
}

// ---- expectations -------------------------------------------------------------

std::set<std::string> readExpected(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "kiln_onnx_conformance: cannot read --expected=" << path << "\n";
    std::exit(2);
  }
  std::set<std::string> ids;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line[0] != '#') ids.insert(line);
  }
  return ids;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parseArgs(argc, argv);
  std::error_code ec;
  if (!fs::is_directory(o.cases, ec)) usage("--cases=" + o.cases + " is not a folder (make it with "
                                              "scripts/make_onnx_node_tests.py)");
  const std::string root = fs::canonical(o.cases).string();
  std::string stamp = readText(fs::path(root) / "STAMP");
  std::string source = stamp.substr(0, stamp.find(" kiln-cases"));
  if (source.empty()) source = "onnx (version unknown)";
  std::vector<std::string> missingKinds;
  {
    std::istringstream in(readText(fs::path(root) / "MISSING_KINDS"));
    for (std::string k; std::getline(in, k);)
      if (!k.empty()) missingKinds.push_back(k);
  }

  std::vector<CaseInfo> cases = findCases(root, o.filter);
  if (cases.empty()) usage("no cases under " + root + (o.filter.empty() ? "" : " matching " + o.filter));
  auto t0 = std::chrono::steady_clock::now();
  std::vector<CaseResult> results = runAll(cases, o);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<RunRecord> runs;
  int counts[4] = {0, 0, 0, 0}, outOfScope = 0, inScope = 0, inScopePass = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    results[i].reason = shortReason(results[i].reason, root);
    runs.push_back({&cases[i], results[i]});
    ++counts[static_cast<int>(results[i].outcome)];
    if (cases[i].kind != "node") continue;
    if (!cases[i].outOfScope.empty()) {
      ++outOfScope;
    } else {
      ++inScope;
      inScopePass += results[i].outcome == Outcome::kPass;
    }
  }

  int status = counts[static_cast<int>(Outcome::kCrash)] ? 1 : 0;
  if (!o.expected.empty()) {
    std::set<std::string> expected = readExpected(o.expected);
    std::map<std::string, const RunRecord*> byId;
    for (const RunRecord& r : runs) byId[r.info->id] = &r;
    int regressions = 0, newly = 0;
    for (const std::string& id : expected) {
      auto it = byId.find(id);
      if (it == byId.end()) {
        if (!o.filter.empty()) continue;
        std::cout << "REGRESSION  " << id << "  listed in " << o.expected << " but not among the cases\n";
      } else if (it->second->result.outcome != Outcome::kPass) {
        std::cout << "REGRESSION  " << id << "  " << outcomeName(it->second->result.outcome) << ": "
                  << it->second->result.reason << "\n";
      } else {
        continue;
      }
      ++regressions;
    }
    for (const RunRecord& r : runs) newly += r.result.outcome == Outcome::kPass && !expected.count(r.info->id);
    if (regressions) {
      std::cout << regressions << " case(s) of " << o.expected << " no longer pass\n";
      status = 1;
    }
    if (newly)
      std::cout << newly << " case(s) pass that " << o.expected
                << " does not list yet (record them with --write-expected)\n";
  }
  if (!o.writeMatrix.empty()) {
    std::string matrix = renderMatrix(runs, source, missingKinds);
    if (!o.modelsResults.empty()) {
      // The model families' table goes before the long list of reasons.
      std::string families;
      try {
        families = renderModelFamilies(o.modelsResults) + "\n";
      } catch (const std::exception& e) {
        std::cerr << "kiln_onnx_conformance: --models-results: " << e.what() << "\n";
        return 2;
      }
      std::size_t at = matrix.find("## Why cases do not pass");
      matrix.insert(at == std::string::npos ? matrix.size() : at, families);
    }
    writeText(o.writeMatrix, matrix);
  }
  if (!o.writeExpected.empty()) writeText(o.writeExpected, renderExpected(runs, source));

  std::cout << counts[0] << " passed, " << counts[1] << " failed, " << counts[2] << " unsupported, " << counts[3]
            << " crashed (" << cases.size() << " cases; node tests in scope: " << inScopePass << " of " << inScope
            << " pass, " << outOfScope << " out of scope; " << static_cast<int>(seconds + 0.5) << " s, "
            << o.jobs << " jobs)\n";
  return status;
}
