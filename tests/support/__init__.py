"""What the tests share: stand-in and real servers, the app and browser fixtures, full disks."""
