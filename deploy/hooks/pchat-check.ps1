# sqldr pre_promote hook: veto the promotion unless the Persistent Chat pool is
# known to the topology and still in Normal state (a pool already FailedOver
# means someone is failing over by hand: do not race them).
# Get-CsPersistentChatState returns PoolState Normal|FailedOver (SQLSERVER.md §5.8).
# Exit 0 lets the promotion go on; any other exit vetoes it.
param(
    [Parameter(Mandatory = $true)][string]$PoolFqdn,
    [string]$ActiveServers = "",
    [string]$PlanId = "",
    [string]$Remote = ""
)
$ErrorActionPreference = "Stop"

$work = {
    param($PoolFqdn)
    $ErrorActionPreference = "Stop"
    Import-Module Lync -ErrorAction SilentlyContinue
    Import-Module SkypeForBusiness -ErrorAction SilentlyContinue
    (Get-CsPersistentChatState -Identity "service:$PoolFqdn").PoolState
}

try {
    if ($Remote -ne "") {
        $state = Invoke-Command -ComputerName $Remote -ScriptBlock $work -ArgumentList $PoolFqdn
    } else {
        $state = & $work $PoolFqdn
    }
} catch {
    [Console]::Error.WriteLine("cannot read the state of pool ${PoolFqdn}: $($_.Exception.Message)")
    exit 2
}
if ("$state" -ne "Normal") {
    [Console]::Error.WriteLine("pool $PoolFqdn is in state '$state', not Normal: vetoing plan $PlanId")
    exit 3
}
Write-Output "pool $PoolFqdn is Normal: promotion of plan $PlanId may go on"
exit 0
