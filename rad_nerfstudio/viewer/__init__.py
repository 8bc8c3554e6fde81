"""Controls of a talking portrait in nerfstudio's web viewer."""
