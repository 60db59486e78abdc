"""Run records for training: package versions, device facts and an energy/carbon estimate.

The estimate follows Appendix D of the paper: add up the power of the devices a
run used, multiply by the run time to get kWh, and multiply by a carbon
intensity of 0.4 kgCO2e/kWh (the arithmetic lives in :mod:`srllm.metrics.carbon`).
What differs from run to run is where the power figure comes from, and the
record always says which source was used:

* ``measured-nvidia-smi`` - the GPU's own power readings, sampled every few
  seconds during the run and averaged (CUDA machines);
* ``measured-rapl`` - the CPU package energy counters under
  ``/sys/class/powercap`` where the kernel exposes them and they are readable;
* ``nominal`` - a stated per-device figure: :data:`NOMINAL_CPU_WATTS_PER_CORE`
  per busy core, where busy cores = the process's CPU time / wall time (so a
  run slowed down by other work on a shared machine is not charged for the time
  it waited), and for GPUs the board power of the model in
  :data:`NOMINAL_GPU_WATTS` (an upper bound of the average draw).

Like the paper, memory, storage and data-centre overhead (PUE 1.0) are left out.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from srllm.metrics.carbon import PAPER_INTENSITY_KG_PER_KWH, carbon_kg, energy_kwh

# A nominal per-core power for CPUs whose power cannot be read. Server CPUs span
# roughly 4-12 W of TDP per core (e.g. a 64-core 280 W part is 4.4 W/core, a
# 16-core 185 W part 11.6 W/core); we take the upper end so the estimate errs high.
NOMINAL_CPU_WATTS_PER_CORE = 12.0

# Board power (TDP) of common GPUs in W, used only when nvidia-smi gives no reading.
NOMINAL_GPU_WATTS = {"A100": 400.0, "A40": 300.0, "A10": 150.0, "L4": 72.0, "T4": 70.0, "V100": 300.0,
                     "H100": 700.0, "H200": 700.0, "RTX 4090": 450.0, "RTX 3090": 350.0}
DEFAULT_GPU_WATTS = 300.0

RECORDED_PACKAGES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "trl", "datasets", "numpy")


def package_versions(names: tuple[str, ...] = RECORDED_PACKAGES) -> dict[str, str | None]:
    """Installed versions of the packages a training run depends on (None: not installed)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = importlib.metadata.version(n)
        except importlib.metadata.PackageNotFoundError:
            out[n] = None
    return out


def cpu_threads() -> int:
    """CPU threads the run computes on (torch's intra-op pool, bounded by the affinity mask)."""
    import torch

    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(torch.get_num_threads(), available))


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (falling back to :func:`platform.processor`), for the run record."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def device_info(device: str) -> dict[str, Any]:
    """What the run ran on: CPU model and threads, and the GPU name where one was used."""
    info: dict[str, Any] = {"device": device, "cpu": cpu_model(), "cpu_threads": cpu_threads(),
                            "platform": platform.platform()}
    if device == "cuda":
        import torch

        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpu_count"] = 1
    return info


def nominal_gpu_watts(gpu_name: str) -> float:
    """Board power of the GPU named ``gpu_name`` from :data:`NOMINAL_GPU_WATTS` (longest matching key wins,
    so "A100" is not read as "A10"); :data:`DEFAULT_GPU_WATTS` for an unknown GPU.
    """
    for key, watts in sorted(NOMINAL_GPU_WATTS.items(), key=lambda kv: -len(kv[0])):
        if key.lower() in gpu_name.lower():
            return watts
    return DEFAULT_GPU_WATTS


def _nvidia_smi_watts() -> float | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--query-gpu=power.draw", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        return float(out.splitlines()[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def _rapl_files() -> list[Path]:
    root = Path("/sys/class/powercap")
    if not root.is_dir():
        return []
    files = []
    for d in sorted(root.glob("intel-rapl:*")):
        if d.name.count(":") == 1 and (d / "energy_uj").exists() and os.access(d / "energy_uj", os.R_OK):
            files.append(d / "energy_uj")
    return files


def _rapl_uj(files: list[Path]) -> int | None:
    try:
        return sum(int(f.read_text().strip()) for f in files)
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class PowerReading:
    """Average power of a session and where the figure came from."""

    seconds: float
    process_cpu_seconds: float
    cpu_watts: float
    cpu_source: str
    gpu_watts: float
    gpu_source: str | None
    gpu_samples: int

    @property
    def total_watts(self) -> float:
        """CPU plus GPU power (W), the figure Appendix D multiplies by the run time."""
        return self.cpu_watts + self.gpu_watts


class PowerMonitor:
    """Measures a training session's average power where the platform allows it.

    ``with PowerMonitor(device) as mon: ...`` then ``mon.reading``. On CUDA a
    background thread samples ``nvidia-smi`` every ``interval`` seconds; RAPL
    counters are read at start and end. Anything that cannot be measured gets
    the nominal figure, and the reading names which it was.
    """

    def __init__(self, device: str, interval: float = 5.0) -> None:
        self.device = device
        self.interval = interval
        self._gpu_samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rapl = _rapl_files()
        self._rapl_start: int | None = None
        self._t0 = 0.0
        self._c0 = 0.0
        self.reading: PowerReading | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            w = _nvidia_smi_watts()
            if w is not None:
                self._gpu_samples.append(w)

    def __enter__(self) -> "PowerMonitor":
        self._t0 = time.perf_counter()
        self._c0 = time.process_time()
        self._rapl_start = _rapl_uj(self._rapl) if self._rapl else None
        if self.device == "cuda":
            first = _nvidia_smi_watts()
            if first is not None:
                self._gpu_samples.append(first)
                self._thread = threading.Thread(target=self._sample, name="srllm-power", daemon=True)
                self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
        self.reading = self.finish()

    def finish(self) -> PowerReading:
        """The reading from the start of the session until now: measured where possible, nominal otherwise.

        CPU: RAPL energy counters, else nominal watts per busy core; GPU: mean of the
        ``nvidia-smi`` samples, else the board's nominal power (on CUDA only). Can be called mid-session.
        """
        seconds = max(time.perf_counter() - self._t0, 1e-9)
        cpu_seconds = time.process_time() - self._c0
        cpu_w, cpu_src = None, "nominal"
        if self._rapl_start is not None:
            end = _rapl_uj(self._rapl)
            if end is not None and end > self._rapl_start:  # a counter wrap gives end < start: fall back
                cpu_w, cpu_src = (end - self._rapl_start) / 1e6 / seconds, "measured-rapl"
        if cpu_w is None:
            busy_cores = min(float(cpu_threads()), cpu_seconds / seconds)
            cpu_w = NOMINAL_CPU_WATTS_PER_CORE * busy_cores
        gpu_w, gpu_src = 0.0, None
        if self.device == "cuda":
            if self._gpu_samples:
                gpu_w, gpu_src = sum(self._gpu_samples) / len(self._gpu_samples), "measured-nvidia-smi"
            else:
                import torch

                gpu_w, gpu_src = nominal_gpu_watts(torch.cuda.get_device_name(0)), "nominal"
        return PowerReading(seconds=seconds, process_cpu_seconds=cpu_seconds, cpu_watts=cpu_w, cpu_source=cpu_src, gpu_watts=gpu_w,
                            gpu_source=gpu_src, gpu_samples=len(self._gpu_samples))


def energy_record(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """Appendix D estimate over all sessions of a run (a resumed run has several).

    Each session dict holds ``seconds``, ``cpu_watts``, ``gpu_watts`` and their sources.
    Energy is summed session by session (power x time), then converted to kgCO2e.
    """

    kwh = sum(energy_kwh(s["cpu_watts"] + s["gpu_watts"], s["seconds"] / 3600.0) for s in sessions)
    seconds = sum(s["seconds"] for s in sessions)
    cpu_seconds = sum(s.get("process_cpu_seconds", 0.0) for s in sessions)
    sources = sorted({s["cpu_source"] for s in sessions} | {s["gpu_source"] for s in sessions if s["gpu_source"]})
    return {
        "seconds": seconds,
        "minutes": seconds / 60.0,
        "process_cpu_seconds": cpu_seconds,
        "average_watts": kwh * 1000.0 / (seconds / 3600.0) if seconds > 0 else 0.0,
        "energy_kwh": kwh,
        "intensity_kg_per_kwh": PAPER_INTENSITY_KG_PER_KWH,
        "kg_co2e": carbon_kg(kwh, PAPER_INTENSITY_KG_PER_KWH),
        "power_sources": sources,
        "method": ("Appendix D: sum of device power (W) x duration (h) / 1000 = kWh; x 0.4 kgCO2e/kWh. "
                   f"CPU: RAPL counters where readable, else {NOMINAL_CPU_WATTS_PER_CORE:g} W per busy core "
                   "(process CPU time / wall time); "
                   "GPU: mean of nvidia-smi power.draw samples, else the board power of the model. "
                   "No PUE, memory or storage (as in the paper)."),
    }


def session_dict(reading: PowerReading, start_step: int, end_step: int, started_at: str) -> dict[str, Any]:
    """One training session's power reading with its step range and start time, as a JSON-ready dict."""
    d = asdict(reading)
    d.update({"start_step": start_step, "end_step": end_step, "started_at": started_at})
    return d
