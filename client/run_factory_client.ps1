<#
.SYNOPSIS
    Runs the CEI factory client once, for Windows Task Scheduler.

.DESCRIPTION
    Reads CEI_BASE_URL, CEI_INT_TOKEN, CEI_FACTORY_CSV_PATH and the CEI_CLIENT_* settings
    (e.g. CEI_CLIENT_ON_CONFLICT=update to send corrections) from the process, else the
    user's, else the machine's environment variables, so a task sees variables set after
    Task Scheduler started; runs factory_client.py from this script's folder and exits
    with the client's exit code:
      0 stored, 1 usage or configuration error, 2 delivery failed (data spooled),
      3 some records rejected, 4 token refused (data spooled).

    CSV mode when CEI_FACTORY_CSV_PATH is set: sends the file's rows from the last
    -HoursBack hours (0 = the whole file); -SiteId/-MeterId fill in files without
    site/meter columns.
    Ramp mode otherwise (smoke test): sends -HoursBack synthetic hourly readings for
    -SiteId/-MeterId.

    No secret or machine path belongs in this file: set the token as an environment
    variable of the account that runs the task.

.PARAMETER SiteId
    Site id, e.g. site-22 (ramp mode; default for CSV files without a site column).

.PARAMETER MeterId
    Meter id, e.g. main-meter (ramp mode; default for CSV files without a meter column).

.PARAMETER HoursBack
    Ramp mode: hours of readings to send. CSV mode: send only rows from the last N hours;
    0 sends the whole file. Default 24.

.PARAMETER Python
    Python 3.9+ interpreter with the requests package. Default: the "py -3" launcher if
    installed, else "python" from PATH.

.PARAMETER LogFile
    Also append the client's log and results to this file (Task Scheduler keeps no output).

.EXAMPLE
    powershell.exe -NoProfile -ExecutionPolicy Bypass -File run_factory_client.ps1 -SiteId site-22 -MeterId main-meter -HoursBack 24
#>
[CmdletBinding()]
param(
    [string]$SiteId,
    [string]$MeterId,
    [ValidateRange(0, 1000000)]
    [int]$HoursBack = 24,
    [string]$Python,
    [string]$LogFile
)

$ErrorActionPreference = 'Stop'

function Get-Setting([string]$Name) {
    foreach ($scope in 'Process', 'User', 'Machine') {
        $value = [Environment]::GetEnvironmentVariable($Name, $scope)
        if ($value) { return $value }
    }
    return $null
}

$settings = @(
    'CEI_BASE_URL', 'CEI_INT_TOKEN', 'CEI_FACTORY_CSV_PATH', 'CEI_CLIENT_ON_CONFLICT',
    'CEI_CLIENT_TIMEOUT', 'CEI_CLIENT_RETRIES', 'CEI_CLIENT_BACKOFF', 'CEI_CLIENT_BATCH_SIZE',
    'CEI_CLIENT_SPOOL_DIR', 'CEI_CLIENT_LOG_FILE'
)
foreach ($name in $settings) {
    $value = Get-Setting $name
    if ($value) { [Environment]::SetEnvironmentVariable($name, $value, 'Process') }
}

$client = Join-Path $PSScriptRoot 'factory_client.py'
if (-not (Test-Path -LiteralPath $client)) {
    Write-Error "factory_client.py not found next to this script ($client)" -ErrorAction Continue
    exit 1
}

if ($Python) {
    $interpreter = @($Python)
} elseif (Get-Command py -ErrorAction SilentlyContinue) {
    $interpreter = @('py', '-3')
} elseif (Get-Command python -ErrorAction SilentlyContinue) {
    $interpreter = @('python')
} else {
    Write-Error 'Python not found: install Python 3.9+ or pass -Python with the full path of python.exe' -ErrorAction Continue
    exit 1
}

$arguments = @()
if ($env:CEI_FACTORY_CSV_PATH) {
    if ([bool]$SiteId -xor [bool]$MeterId) {
        Write-Error 'CSV mode takes both -SiteId and -MeterId, or neither' -ErrorAction Continue
        exit 1
    }
    if ($SiteId) { $arguments += @($SiteId, $MeterId) }
    if ($HoursBack -gt 0) { $arguments += @('--since-hours', $HoursBack) }
} else {
    if (-not $SiteId -or -not $MeterId -or $HoursBack -lt 1) {
        Write-Error 'Ramp mode needs -SiteId, -MeterId and -HoursBack 1 or more (or set CEI_FACTORY_CSV_PATH for CSV mode)' -ErrorAction Continue
        exit 1
    }
    $arguments += @($SiteId, $MeterId, $HoursBack)
}
if ($LogFile) { $arguments += @('--log-file', $LogFile) }

$command = $interpreter[0]
$prefix = @($interpreter | Select-Object -Skip 1)
# The client writes progress to stderr; keep it from becoming terminating errors.
$ErrorActionPreference = 'Continue'
& $command @prefix $client @arguments
exit $LASTEXITCODE
