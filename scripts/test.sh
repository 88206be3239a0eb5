#!/usr/bin/env bash
# Installs what the tests need (system packages included) and runs every test: one build, then
# the tests without rebuilding. Integration tests start their own mosquitto on 127.0.0.1.
#   scripts/test.sh [--sanitize=thread|address] [swift test options, e.g. --filter X]
# With --sanitize the suite is built in its own folder (.build-thread, .build-address) with
# ThreadSanitizer or AddressSanitizer and run under it; a finding fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/opt/swift/usr/bin"
scripts/bootstrap.sh --test
sanitizer=""
args=()
for a in "$@"; do
  case "$a" in
    --sanitize=thread|--sanitize=address) sanitizer="${a#--sanitize=}" ;;
    --sanitize=*) echo "test.sh: --sanitize takes thread or address" >&2; exit 64 ;;
    *) args+=("$a") ;;
  esac
done
if [ -z "$sanitizer" ]; then
  swift build --build-tests
  if [ ${#args[@]} -gt 0 ]; then
    swift test --skip-build "${args[@]}"
  else
    # Two runs of the one build: the in-process suites first, then the tests that start the app
    # as a process (CrowdNotifierTests, each with its own broker and servers). Together on two
    # cores those processes starved the in-process HTTP tests for seconds, whose fake servers
    # and clients then missed their time limits.
    swift test --skip-build --skip CrowdNotifierTests
    swift test --skip-build --filter CrowdNotifierTests
  fi
else
  scratch=".build-$sanitizer"
  # TSan: report and fail on the first race; suppressions (with their reasons) in scripts/tsan.supp
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp ${TSAN_OPTIONS:-}"
  export ASAN_OPTIONS="detect_leaks=0 halt_on_error=1 ${ASAN_OPTIONS:-}"
  # sanitized code runs several times slower: time limits that only guard against hangs grow
  # (Tests/CrowdKitTestServers: testTimeScale); no test asserts a duration with it
  if [ "$sanitizer" = thread ]; then export CROWDKIT_TEST_TIME_SCALE="${CROWDKIT_TEST_TIME_SCALE:-10}"; else export CROWDKIT_TEST_TIME_SCALE="${CROWDKIT_TEST_TIME_SCALE:-3}"; fi
  swift build --build-tests --scratch-path "$scratch" --sanitize="$sanitizer"
  swift test --skip-build --scratch-path "$scratch" --sanitize="$sanitizer" ${args[@]+"${args[@]}"}
fi
