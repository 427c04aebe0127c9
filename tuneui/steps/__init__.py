"""The steps that need a backend: Baseline, Evaluate, Export, the Cost report and the evaluation reports;
and the step table (`step_table`, one row a step) with the protocol its rows' behaviours follow (`step`).

Each is what a headless command and the guide run; they sit above `tuneui.core` (which imports
nothing of `backends` but `tuneui.core.backend`) because they reach the run folder and the registry.
"""
