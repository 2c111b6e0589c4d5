WHO = "twins-b"
