WHO = "twins-a"
