#!/usr/bin/env bash
# bench/soak.sh [SECONDS] [MODEL] — the soak of docs/reliability.md: starts `keyembed serve --model MODEL` (default
# minilm) on a free loopback port, runs bench/KeyEmbed.Soak against it for SECONDS (default 1800: six 5-minute
# windows), then stops the service with SIGTERM and checks that it exits 0. Loopback only; ends by itself.
# Report: bench/out/soak-report.txt (the figures docs/reliability.md quotes). Exit non-zero on any unintended answer.
set -euo pipefail
seconds=${1:-1800}
model=${2:-minilm}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/bench/out
mkdir -p "$out"
cd "$root"
dotnet build -c Release src/KeyEmbed.Cli/KeyEmbed.Cli.csproj -v quiet -nologo >/dev/null
dotnet build -c Release bench/KeyEmbed.Soak/KeyEmbed.Soak.csproj -v quiet -nologo >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dotnet src/KeyEmbed.Cli/bin/Release/net10.0/KeyEmbed.Cli.dll serve --model "$model" --port "$port" > "$out/soak-server.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null || true' EXIT
status=0
dotnet bench/KeyEmbed.Soak/bin/Release/net10.0/KeyEmbed.Soak.dll --url "http://127.0.0.1:$port" --duration "$seconds" \
  --report "$out/soak-report.txt" 2> "$out/soak-progress.log" || status=$?
kill -TERM "$server"
server_exit=0
wait "$server" || server_exit=$?
trap - EXIT
echo "service exit code after SIGTERM: $server_exit" | tee -a "$out/soak-report.txt"
cat "$out/soak-report.txt"
[ "$status" -eq 0 ] && [ "$server_exit" -eq 0 ]
