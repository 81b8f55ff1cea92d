#!/usr/bin/env bash
# The break-glass workflow's gate (.github/workflows/break-glass.yml): the commit to apply is a full
# SHA already on main (reviewed and merged: no unreviewed code reaches prod's credentials), and the
# reason is one line. Every problem on one line of its own, exit 1; nothing else is done.
#   COMMIT=<40 hex> REASON="..." MAIN_REF=origin/main bash tools/break_glass_check.sh
set -uo pipefail
problems=0
fail() { echo "::error::$1"; problems=$((problems + 1)); }
main_ref="${MAIN_REF:-origin/main}"
if [[ ! "${COMMIT:-}" =~ ^[0-9a-f]{40}$ ]]; then
  fail "commit: a full 40-hex commit SHA of main is required (got ${#COMMIT} characters)"
elif ! git cat-file -e "${COMMIT}^{commit}" 2>/dev/null; then
  fail "commit: $COMMIT is not a commit of this repository"
elif ! git merge-base --is-ancestor "$COMMIT" "$main_ref" 2>/dev/null; then
  fail "commit: $COMMIT is not on $main_ref: only reviewed, merged code is applied to prod"
fi
reason="${REASON:-}"
if [[ -z "${reason//[[:space:]]/}" ]]; then
  fail "reason: say why (the incident), one line"
elif [[ "$reason" == *$'\n'* || ${#reason} -gt 300 ]]; then
  fail "reason: one line of at most 300 characters (got ${#reason})"
fi
[[ $problems -eq 0 ]] || exit 1
echo "break glass: $COMMIT, on $main_ref"
