NAME = "helpers of iso-echo"
