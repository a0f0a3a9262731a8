# Shared by the peer scripts (sourced, not run): the one option they take, and stopping a child.

# Reads `--seconds N` (default 10) from the script's arguments into $seconds; exits 2 on anything
# else, with the usage line.
parse_seconds() {
  seconds=10
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --seconds) seconds="${2:-}"; shift 2 || shift ;;
      *) echo "usage: $0 [--seconds N]" >&2; exit 2 ;;
    esac
  done
  [[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "--seconds wants a positive integer" >&2; exit 2; }
}

# Stops the child process $1 (if given and still running) and reaps it.
stop_pid() {
  if [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
