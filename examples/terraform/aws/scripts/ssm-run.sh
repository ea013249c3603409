#!/usr/bin/env bash
# Runs a command on an EC2 instance through AWS Systems Manager and waits for
# it, as the exec action of aftershock's inventory needs: the command's output
# comes back on stdout and stderr, and its exit status is this script's.
#
# Usage: ssm-run.sh AWS_REGION INSTANCE_ID -- COMMAND [ARGS...]
set -euo pipefail
region=$1 instance=$2
shift 2
[[ ${1:-} == -- ]] && shift
[[ $# -gt 0 ]] || { echo "usage: $0 AWS_REGION INSTANCE_ID -- COMMAND [ARGS...]" >&2; exit 2; }

# One shell command line, each argument quoted, as SSM runs a script.
line=$(printf '%q ' "$@")
params=$(jq -cn --arg line "$line" '{commands: [$line]}')

id=$(aws ssm send-command --region "$region" --instance-ids "$instance" \
  --document-name AWS-RunShellScript --parameters "$params" \
  --timeout-seconds 120 --query Command.CommandId --output text)

status=Pending
while [[ $status == Pending || $status == InProgress || $status == Delayed ]]; do
  sleep 2
  status=$(aws ssm get-command-invocation --region "$region" --command-id "$id" --instance-id "$instance" \
    --query Status --output text 2>/dev/null || echo Pending)
done

result=$(aws ssm get-command-invocation --region "$region" --command-id "$id" --instance-id "$instance" --output json)
jq -r '.StandardOutputContent' <<<"$result"
jq -r '.StandardErrorContent' <<<"$result" >&2
code=$(jq -r '.ResponseCode' <<<"$result")
[[ $status == Success ]] || echo "ssm-run: command $id on $instance ended $status (exit $code)" >&2
exit $(( code < 0 ? 1 : code ))
