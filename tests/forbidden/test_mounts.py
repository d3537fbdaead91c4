"""agent.forbidden.mounts: the mount table, pure, and the mounts that show a protected folder again.

Each attack goes through the real handlers and a real Dispatcher, and must
end in ``forbidden`` (or an error that leaks nothing) without the protected
content ever being returned.
Mount attacks need root (CI runs as root) and fail otherwise.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agent.forbidden import ForbiddenFolders, mounts
from agent.forbidden.mounts import Mount, mount_aliases, parse_mountinfo
from tests.forbidden.harness import SECRET, Agent, Scene, all_reads, mounted

# -------------------------------------------------------- mount table, pure


MOUNTINFO = """\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 22 8:1 /home/ana/secret/sub /mnt/sub rw - ext4 /dev/sda1 rw
31 22 8:1 /home /mnt/home rw - ext4 /dev/sda1 rw
32 22 8:1 /var /mnt/var rw - ext4 /dev/sda1 rw
33 22 0:50 / /home/ana/secret/usb rw - vfat /dev/sdb1 rw
34 22 0:50 /photos /media/usb\\040stick rw - vfat /dev/sdb1 rw
35 22 0:60 / /ov rw - overlay overlay rw,lowerdir=/home/ana/secret:/other,upperdir=/up,workdir=/work
36 22 0:61 / /ov2 rw - overlay overlay rw,lowerdir=/home/ana,upperdir=/up2,workdir=/work2
bad line
"""


def test_parse_mountinfo() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    assert len(mounts) == 8
    assert mounts[1] == Mount(os.makedev(8, 1), "/home/ana/secret/sub", "/mnt/sub", "ext4", "rw", "/dev/sda1")
    assert mounts[5].point == "/media/usb stick"


def test_mount_aliases() -> None:
    mounts = parse_mountinfo(MOUNTINFO)
    aliases = sorted(mount_aliases(mounts, "/home/ana/secret"))
    # /mnt/sub shows a folder below; /media/usb stick shows part of the disk mounted inside;
    # /ov has the folder as a layer; /ov2 shows it from its parent.  /mnt/home is reached
    # by identity (same inode), /mnt/var is unrelated.
    assert aliases == ["/media/usb stick", "/mnt/sub", "/ov", "/ov2/secret"]
    assert mount_aliases(mounts, "/var/log") == []


def test_loop_backing_file_names(tmp_path: Path) -> None:
    (tmp_path / "loop3" / "loop").mkdir(parents=True)
    (tmp_path / "loop3" / "loop" / "backing_file").write_text("/data/disk.img\n")
    assert mounts.loop_backing_file("/dev/loop3", str(tmp_path)) == "/data/disk.img"
    assert mounts.loop_backing_file("/dev/loop3p1", str(tmp_path)) == "/data/disk.img"
    assert mounts.loop_backing_file("/dev/sda1", str(tmp_path)) is None
    assert mounts.loop_backing_file("/dev/loop9", str(tmp_path)) is None


# ------------------------------------------------------------------- mounts


def test_bind_mount_of_the_folder(scene: Scene) -> None:
    point = scene.out / "bind"
    point.mkdir()
    with mounted("--bind", str(scene.secret), str(point)):
        all_reads(scene.agent, str(point / "s.txt"))
        scene.agent.forbidden("files.list", path=str(point))


def test_bind_mount_of_a_sub_folder(scene: Scene) -> None:
    """A different identity from the protected folder: caught through the mount table."""
    point = scene.out / "bind-sub"
    point.mkdir()
    with mounted("--bind", str(scene.secret / "sub"), str(point)):
        all_reads(scene.agent, str(point / "deep.txt"))
        scene.agent.forbidden("files.list", path=str(point))
        # The mount point is protected in listings too.
        entries = {e["name"]: e for e in scene.agent("files.list", path=str(scene.out))["entries"]}
        assert entries["bind-sub"].get("protected") is True


def test_bind_mount_made_after_the_rule_is_seen(scene: Scene) -> None:
    scene.agent("files.list", path=str(scene.out))  # rules already computed once
    point = scene.out / "late"
    point.mkdir()
    with mounted("--bind", str(scene.secret / "sub"), str(point)):
        scene.agent.forbidden("files.read", path=str(point / "deep.txt"))


def test_bind_mount_of_the_parent(scene: Scene) -> None:
    point = scene.out / "bind-parent"
    point.mkdir()
    with mounted("--bind", str(scene.home), str(point)):
        all_reads(scene.agent, str(point / "secret" / "s.txt"))
        assert scene.agent("files.read", path=str(point / "notes.txt"))["text"] == "notes"


def test_a_mount_inside_the_folder_mounted_again_elsewhere(scene: Scene) -> None:
    inner = scene.secret / "usb"
    inner.mkdir()
    with mounted("-t", "tmpfs", "tmpfs", str(inner)):
        (inner / "card.txt").write_bytes(SECRET)
        point = scene.out / "same-usb"
        point.mkdir()
        with mounted("--bind", str(inner), str(point)):
            all_reads(scene.agent, str(point / "card.txt"))


@pytest.mark.parametrize("layer", ["folder", "parent"])
def test_overlay_showing_the_folder(scene: Scene, layer: str) -> None:
    other = scene.root / "other"
    other.mkdir()
    (other / "o.txt").write_text("o")
    point = scene.out / "overlay"
    point.mkdir()
    lower = scene.secret if layer == "folder" else scene.home
    with mounted("-t", "overlay", "overlay", "-o", f"lowerdir={lower}:{other}", str(point)):
        inside = point / "s.txt" if layer == "folder" else point / "secret" / "s.txt"
        assert inside.read_bytes() == SECRET  # the overlay really shows it
        all_reads(scene.agent, str(inside))


@pytest.mark.needs("mkfs.ext4", "e2fsprogs")
def test_the_disk_image_holding_the_folder(tmp_path: Path) -> None:
    """Reading the image file behind a loop mount would read the protected folder inside it."""
    image = tmp_path / "disk.img"
    point = tmp_path / "disk"
    point.mkdir()
    with open(image, "wb") as f:
        f.truncate(8 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", str(image)], capture_output=True, check=True)
    with mounted("-o", "loop", str(image), str(point)):
        (point / "secret").mkdir()
        (point / "secret" / "s.txt").write_bytes(SECRET)
        folders = ForbiddenFolders()
        folders.add(str(point / "secret"))
        agent = Agent(tmp_path, folders)
        try:
            agent.forbidden("files.download_open", path=str(image))
            agent.forbidden("files.read", path=str(image), encoding=None, length=4096)
            agent.forbidden("files.copy", src=str(image), dst=str(tmp_path / "copy.img"))
        finally:
            agent.dispatcher.close()
            agent.journal.close()
            folders.close()


# ------------------------------------------------------------ case variants


@pytest.mark.needs("mkfs.ext4", "e2fsprogs")
@pytest.mark.needs("chattr", "e2fsprogs")
def test_case_variant_on_a_case_insensitive_disk(tmp_path: Path) -> None:
    if not Path("/sys/fs/ext4/features/casefold").exists():
        pytest.skip("this kernel has no ext4 case-folding (/sys/fs/ext4/features/casefold is absent)")
    image = tmp_path / "fold.img"
    point = tmp_path / "fold"
    point.mkdir()
    with open(image, "wb") as f:
        f.truncate(16 * 1024 * 1024)
    subprocess.run(["mkfs.ext4", "-q", "-O", "casefold", str(image)], capture_output=True, check=True)
    with mounted("-o", "loop", str(image), str(point)):
        (point / "ci").mkdir()
        subprocess.run(["chattr", "+F", str(point / "ci")], capture_output=True, check=True)
        (point / "ci" / "Secret").mkdir()
        (point / "ci" / "Secret" / "s.txt").write_bytes(SECRET)
        folders = ForbiddenFolders()
        folders.add(str(point / "ci" / "Secret"))
        agent = Agent(tmp_path, folders)
        all_reads(agent, str(point / "ci" / "SECRET" / "S.TXT"))
        folders.close()
