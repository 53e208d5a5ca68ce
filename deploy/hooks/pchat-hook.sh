#!/bin/sh
# sqldr hook wrapper for the Lync / Skype for Business Persistent Chat cmdlets.
#
#   pchat-hook.sh check     pre_promote: veto unless the pool is known and in Normal state
#   pchat-hook.sh failover  post_promote: Set-CsPersistentChatState -PoolState FailedOver,
#                           then Set-CsPersistentChatActiveServer (SQLSERVER.md §5.6 steps 5 and 7)
#
# sqldr runs it without a shell of its own, with the SQLDR_* environment
# (deploy/hooks/README.md). The pool and servers come from the hook's `env:`
# in the sqldr config:
#   PCHAT_POOL_FQDN       the Persistent Chat pool FQDN (required)
#   PCHAT_ACTIVE_SERVERS  comma-separated FQDNs to make active (failover; required)
#   PCHAT_PWSH            the PowerShell to run (default: pwsh, else powershell.exe)
#   PCHAT_REMOTE          optional: a Windows host with the Lync/SfB management shell;
#                         the script then runs there through PowerShell remoting
#                         (Invoke-Command -ComputerName).
set -eu

action=${1:-}
case "$action" in
  check) script=pchat-check.ps1 ;;
  failover) script=pchat-failover.ps1 ;;
  *) echo "usage: $0 check|failover" >&2; exit 64 ;;
esac
: "${PCHAT_POOL_FQDN:?PCHAT_POOL_FQDN is not set (set it in the hook's env: in the sqldr config)}"
if [ "$action" = failover ]; then
  : "${PCHAT_ACTIVE_SERVERS:?PCHAT_ACTIVE_SERVERS is not set}"
fi

here=$(cd "$(dirname "$0")" && pwd)
pwsh=${PCHAT_PWSH:-}
if [ -z "$pwsh" ]; then
  if command -v pwsh >/dev/null 2>&1; then pwsh=pwsh; else pwsh=powershell.exe; fi
fi

echo "sqldr plan ${SQLDR_PLAN_ID:-?} event ${SQLDR_EVENT:-?}: $action pool $PCHAT_POOL_FQDN (new primary ${SQLDR_NEW_PRIMARY:-?})"
exec "$pwsh" -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "$here/$script" \
  -PoolFqdn "$PCHAT_POOL_FQDN" -ActiveServers "${PCHAT_ACTIVE_SERVERS:-}" -PlanId "${SQLDR_PLAN_ID:-}" \
  -Remote "${PCHAT_REMOTE:-}"
