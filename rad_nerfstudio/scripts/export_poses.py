"""``rad-export-poses``: a trained run's refined head poses as ``transforms_train.json`` / ``transforms_val.json``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro

from rad_nerfstudio.scripts.cli import CONSOLE, run_or_exit


@dataclass
class ExportPosesArgs:
    """Write the head poses a run refined (--pipeline.model.camera-optimizer.mode SO3xR3) in the dataset's layout."""

    load_config: Path
    """The training run's config.yml."""
    output_dir: Path
    """Folder for transforms_train.json and transforms_val.json (the dataset's, with the refined transform_matrix;
    validation frames keep their poses: training never sees them). Use it as a dataset's poses or score it."""


def export_poses(args: ExportPosesArgs) -> Path:
    from rad_nerfstudio.render.refined_poses import refined_transforms, write_transforms_files
    from rad_nerfstudio.render.trained_run import load_trained_run

    run = load_trained_run(args.load_config)
    datamanager = run.datamanager
    parser = datamanager.dataparser.config
    given = parser.poses or datamanager.get_datapath()
    for folder in {datamanager.get_datapath(), given}:
        if args.output_dir.resolve() == Path(folder).resolve():
            raise ValueError(f"--output-dir {args.output_dir} holds the run's poses: they are never overwritten")
    contents = refined_transforms(run.model, given, parser.scene_scale, datamanager.tables.img_ids.tolist())
    write_transforms_files(contents, args.output_dir)
    if not run.model.pose_correction.refining:
        CONSOLE.print("[yellow]rad-export-poses: this run did not refine its poses; the files hold them as given")
    return args.output_dir


def main(args: ExportPosesArgs) -> None:
    out = run_or_exit("rad-export-poses", lambda: export_poses(args))
    CONSOLE.print(f"[bold green]Wrote {out}/transforms_train.json and transforms_val.json[/]")


def entrypoint() -> None:
    main(tyro.cli(ExportPosesArgs))


if __name__ == "__main__":
    entrypoint()
