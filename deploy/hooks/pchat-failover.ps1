# sqldr post_promote hook: point the Persistent Chat pool at the promoted backup
# database and make the backup data centre's servers active.
# Lync Server 2013 "Failing over Persistent Chat Server", steps 5 and 7
# (SQLSERVER.md §5.6, §5.8):
#   Set-CsPersistentChatState -Identity "service:<pool fqdn>" -PoolState FailedOver
#   Set-CsPersistentChatActiveServer -Identity "service:<pool fqdn>" -ActiveServers <list>
# Idempotent: a pool already FailedOver with the same active servers is left as it is,
# so a re-run after a crash changes nothing. Exit 0 on success, 1 on any error.
param(
    [Parameter(Mandatory = $true)][string]$PoolFqdn,
    [Parameter(Mandatory = $true)][string]$ActiveServers,
    [string]$PlanId = "",
    [string]$Remote = ""
)
$ErrorActionPreference = "Stop"

$work = {
    param($PoolFqdn, $ActiveServers)
    $ErrorActionPreference = "Stop"
    Import-Module Lync -ErrorAction SilentlyContinue
    Import-Module SkypeForBusiness -ErrorAction SilentlyContinue
    $identity = "service:$PoolFqdn"
    $state = Get-CsPersistentChatState -Identity $identity
    if ($state.PoolState -ne "FailedOver") {
        Set-CsPersistentChatState -Identity $identity -PoolState FailedOver -Confirm:$false
        Write-Output "pool $PoolFqdn: PoolState FailedOver"
    } else {
        Write-Output "pool $PoolFqdn: already FailedOver"
    }
    $wanted = $ActiveServers.Split(",") | ForEach-Object { $_.Trim() } | Where-Object { $_ -ne "" }
    # Clear the list, then add the backup data centre's servers (the cmdlet takes a
    # PSListModifier; $Null clears it, as the failover and failback procedures do).
    Set-CsPersistentChatActiveServer -Identity $identity -ActiveServers $Null -Confirm:$false
    Set-CsPersistentChatActiveServer -Identity $identity -ActiveServers @{Add = $wanted} -Confirm:$false
    Write-Output ("pool {0}: active servers {1}" -f $PoolFqdn, ($wanted -join ", "))
}

try {
    Write-Output "sqldr plan $PlanId: failing the Persistent Chat pool over"
    if ($Remote -ne "") {
        Invoke-Command -ComputerName $Remote -ScriptBlock $work -ArgumentList $PoolFqdn, $ActiveServers
    } else {
        & $work $PoolFqdn $ActiveServers
    }
    exit 0
} catch {
    [Console]::Error.WriteLine("pchat failover failed: $($_.Exception.Message)")
    exit 1
}
