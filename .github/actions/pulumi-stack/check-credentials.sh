#!/usr/bin/env bash
# Every credential of the stack is present in the job's GitHub environment, and the stack file
# says how its secrets are encrypted; otherwise one line naming what is missing, exit 1.
# Reads STACK, ENVIRONMENT, PULUMI_BACKEND_URL, PASSPHRASE, KUBECONFIG_B64, STACK_SECRETS.
set -euo pipefail
suffix=$(printf '%s' "$STACK" | tr '[:lower:]' '[:upper:]')
where="GitHub environment '$ENVIRONMENT' (docs/deploying.md, \"Where each secret lives\")"
fail() { echo "::error::$1"; exit 1; }
[ -n "$PULUMI_BACKEND_URL" ] || fail "variable PULUMI_BACKEND_URL is not set in the $where"
[ -n "$KUBECONFIG_B64" ] || fail "secret KUBECONFIG_$suffix is not set in the $where"
[ -n "$STACK_SECRETS" ] || fail "secret STACK_SECRETS_$suffix is not set in the $where"
file="Pulumi.$STACK.yaml"
if grep -Eq '^secretsprovider:[[:space:]]*[a-z]+://' "$file"; then
  : # a cloud KMS key: the job's cloud identity decrypts, no passphrase
elif grep -Eq '^encryptionsalt:' "$file"; then
  [ -n "$PASSPHRASE" ] || fail "secret PULUMI_CONFIG_PASSPHRASE_$suffix is not set in the $where"
elif [[ "$PULUMI_BACKEND_URL" == https://* ]]; then
  : # Pulumi Cloud: its own secrets provider, nothing in the stack file
else
  fail "$file has neither encryptionsalt nor a KMS secretsprovider: run 'pulumi stack init $STACK' once and commit them (docs/deploying.md)"
fi
