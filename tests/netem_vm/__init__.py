"""A qemu VM running Debian's stock kernel, to test the netem backend where sch_netem exists.

`build.build_image()` makes and caches the kernel + initramfs; `vm.run_cases()` boots it once
with a plan of cases and returns one report per case. See tests/test_netem_vm.py.
"""
